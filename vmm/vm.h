// The VM interfaces the daemon and tests use, and the QEMU-backed default.
//
//   VmSpec spec{.kernel_path = ".../vmlinux", .initramfs_path = "init.cpio.gz",
//               .topology = *FindPreset("tiny-2llc")};
//   BootFailure failure;
//   absl::StatusOr<std::unique_ptr<Vm>> vm = Vm::Boot(spec, &failure);
//   // ready: the guest printed KTSTR_AGENT_READY on ttyS0; talk to it on
//   // (*vm)->channel_socket_path() (virtio-serial port "ktstr.agent").
//
// A Vm owns its VM (RAII): destroying it kills and reaps QEMU's whole process group and
// removes its sockets, console log, work directory and owned RAM files. A crash or Ctrl-C of
// the owning process kills QEMU too (PR_SET_PDEATHSIG, process.h); files it leaves are
// removed by the next owner (stale_files.h). The QEMU implementation is qemu_vm.h; a fake for
// the daemon's tests is testing/fake_vm.h.
#ifndef KTSTR_VMM_VM_H_
#define KTSTR_VMM_VM_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vmm/accel.h"
#include "vmm/crash_detector.h"
#include "vmm/vm_spec.h"

namespace ktstr::vmm {

enum class VmState {
  kBooting,    // started, guest not ready yet
  kRestoring,  // clone waiting for / loading its migration stream
  kReady,      // guest printed the ready marker (or a clone was resumed) and is running
  kPaused,     // stopped through QMP (e.g. while being snapshotted)
  kExited,     // QEMU exited by itself (guest poweroff, panic with -no-reboot, QEMU error)
  kKilled,     // we killed it (Kill(), boot timeout, lifetime expiry, destruction)
};
absl::string_view VmStateName(VmState state);

// Why a boot failed; the pool retries kCrashed and kTimedOut.
enum class BootFailureKind {
  kNone,
  kLaunch,      // QEMU could not be started or its QMP socket never came up
  kCrashed,     // a fatal console event (Oops, panic, BUG, ...) before the ready marker
  kQemuExited,  // QEMU exited before ready without a recognised crash line
  kTimedOut,    // no ready marker within spec.boot_timeout
  kCancelled,   // spec.boot_canceller fired while waiting
};
absl::string_view BootFailureKindName(BootFailureKind kind);

struct BootFailure {
  BootFailureKind kind = BootFailureKind::kNone;
  std::string console;      // everything the guest printed (ring tail)
  std::string qemu_stderr;  // QEMU's own messages
  std::vector<CrashEvent> crashes;
};

// A crash event with console context around it (for the verdict).
struct CrashReport {
  CrashEvent event;
  std::string context;  // up to config::kCrashContextBytes before and after the line
};

namespace config {
// Console context kept around a crash line (syzkaller keeps ~128 KiB per report).
inline constexpr size_t kCrashContextBytes = 64 << 10;
}  // namespace config

class Vm {
 public:
  // Boots a QEMU VM (QemuVm::Boot) and waits for the ready marker. On failure the VM is
  // destroyed and `failure` (if given) gets the console text. Status codes: DeadlineExceeded
  // (timeout), Aborted (crash or QEMU exit before ready), others for bad specs/launch errors.
  static absl::StatusOr<std::unique_ptr<Vm>> Boot(const VmSpec& spec,
                                                  BootFailure* failure = nullptr);

  virtual ~Vm() = default;

  virtual VmState state() const = 0;
  virtual const VmSpec& spec() const = 0;
  virtual Accel accel() const = 0;
  // QEMU's pid (it leads its own process group); -1 for fakes.
  virtual pid_t pid() const = 0;
  // Unix socket of the guest channel (virtio-serial port "ktstr.agent"; QEMU is the server).
  virtual const std::string& channel_socket_path() const = 0;
  // The console so far (the in-memory ring: the last config::kConsoleRingBytes).
  virtual std::string ConsoleText() const = 0;
  // Every crash event seen so far, with context.
  virtual std::vector<CrashReport> Crashes() const = 0;
  virtual bool HasFatalCrash() const = 0;
  // When the VM was started, and when the guest became ready (InfinitePast if not yet).
  virtual absl::Time launched_at() const = 0;
  virtual absl::Time ready_at() const = 0;
  // Clones: when their snapshot was taken. The guest's wall clock lags real time by
  // (now - snapshot_taken_at); the caller must set it (agent Hello/SetTime).
  virtual std::optional<absl::Time> snapshot_taken_at() const = 0;
  // Waits until the VM has exited (and was reaped). False on timeout.
  virtual bool WaitExited(absl::Duration timeout) = 0;
  // Kills the VM and reaps it. Idempotent.
  virtual void Kill() = 0;
};

// A saved, booted VM from which clones start (snapshot.h for QEMU).
class VmTemplate {
 public:
  virtual ~VmTemplate() = default;
  // A running clone with its own channel; its wall clock must be set by the caller.
  virtual absl::StatusOr<std::unique_ptr<Vm>> StartClone() const = 0;
  virtual const VmSpec& spec() const = 0;
  virtual absl::Time taken_at() const = 0;
};

// How the daemon obtains VMs; QemuLauncher (qemu_vm.h) or FakeLauncher (testing/fake_vm.h).
class VmLauncher {
 public:
  virtual ~VmLauncher() = default;
  virtual absl::StatusOr<std::unique_ptr<Vm>> Boot(const VmSpec& spec, BootFailure* failure) = 0;
  // Consumes a ready VM from this launcher and turns it into a template.
  virtual absl::StatusOr<std::unique_ptr<VmTemplate>> SaveTemplate(std::unique_ptr<Vm> vm) = 0;
};

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_VM_H_
