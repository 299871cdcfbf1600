// A QEMU-backed VM: launched, watched and destroyed as one RAII object.
//
//   VmSpec spec{.kernel_path = ".../vmlinux", .initramfs_path = "init.cpio.gz",
//               .topology = *FindPreset("tiny-2llc")};
//   BootFailure failure;
//   absl::StatusOr<std::unique_ptr<Vm>> vm = Vm::Boot(spec, &failure);
//   // ready: the guest printed KTSTR_AGENT_READY on ttyS0; talk to it on
//   // (*vm)->channel_socket_path() (virtio-serial port "ktstr.agent").
//
// Destroying a Vm SIGKILLs QEMU's process group, reaps it and removes its sockets, console
// log, work directory and owned RAM files. A crash or Ctrl-C of the owning process kills
// QEMU too (PR_SET_PDEATHSIG, process.h).
#ifndef KTSTR_VMM_VM_H_
#define KTSTR_VMM_VM_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "vmm/accel.h"
#include "vmm/console_log.h"
#include "vmm/crash_detector.h"
#include "vmm/qmp.h"
#include "vmm/vm_spec.h"

namespace ktstr::vmm {

enum class VmState {
  kBooting,    // QEMU started, guest not ready yet
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
// After a fatal line before ready, how long to let the kernel finish printing the report
// (the panic follows the Oops within milliseconds, and QEMU then exits).
inline constexpr absl::Duration kCrashSettleTime = absl::Seconds(3);
// How long QEMU gets to create its QMP socket.
inline constexpr absl::Duration kQmpConnectTimeout = absl::Seconds(20);
}  // namespace config

// How a Vm is started; Vm::Boot covers the common case. Used by snapshot.h for clones.
struct LaunchOptions {
  // Map existing RAM files (a snapshot's) copy-on-write instead of creating owned ones.
  std::vector<std::string> clone_ram_files;
  bool incoming = false;  // -incoming defer
};

class Vm {
 public:
  // Launches QEMU and waits for the ready marker. On failure the VM is destroyed and, if
  // `failure` is given, filled with the console text. Status codes: DeadlineExceeded
  // (timeout), Aborted (crash or QEMU exit before ready), others for bad specs/launch errors.
  static absl::StatusOr<std::unique_ptr<Vm>> Boot(const VmSpec& spec,
                                                  BootFailure* failure = nullptr);
  // Launches QEMU without waiting for the guest (state kBooting, or kRestoring with
  // options.incoming). Snapshot::StartClone builds on this.
  static absl::StatusOr<std::unique_ptr<Vm>> Launch(const VmSpec& spec,
                                                    const LaunchOptions& options);

  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  // Waits until ready, a fatal crash, QEMU's exit or `deadline`; see Boot for the codes.
  absl::Status WaitReady(absl::Time deadline, BootFailure* failure = nullptr);
  // Waits until QEMU has exited (and was reaped). False on timeout.
  bool WaitExited(absl::Duration timeout);
  // SIGKILLs the process group and reaps it. Idempotent.
  void Kill();

  VmState state() const;
  pid_t pid() const { return pid_; }
  Accel accel() const { return accel_; }
  const VmSpec& spec() const { return spec_; }
  // Unix socket of the guest channel (virtio-serial port "ktstr.agent").
  const std::string& channel_socket_path() const { return channel_socket_; }
  const std::string& qmp_socket_path() const { return qmp_socket_; }
  const std::string& console_log_path() const { return console_->path(); }
  // The QMP connection (established at launch). One caller at a time.
  QmpClient& qmp() { return *qmp_; }

  // The console so far (the in-memory ring: the last config::kConsoleRingBytes).
  std::string ConsoleText() const { return console_->Text(); }
  std::string QemuStderr() const;
  // Every crash event seen so far, with context.
  std::vector<CrashReport> Crashes() const;
  bool HasFatalCrash() const;
  // When QEMU was started, and when the guest became ready (InfinitePast if not yet).
  absl::Time launched_at() const { return launched_at_; }
  absl::Time ready_at() const;
  // Exit status from waitpid once kExited/kKilled.
  std::optional<int> wait_status() const;

  // RAM files this VM created and will delete (one per NUMA node).
  const std::vector<std::string>& ram_files() const { return ram_files_; }
  // Hands the RAM files to the caller (a snapshot); the VM no longer deletes them.
  std::vector<std::string> ReleaseRamFiles();
  // Clones: when the snapshot they came from was taken. The guest's wall clock lags real
  // time by (now - snapshot_taken_at); the caller must set it (agent Hello/SetTime).
  std::optional<absl::Time> snapshot_taken_at() const { return snapshot_taken_at_; }
  void set_snapshot_taken_at(absl::Time t) { snapshot_taken_at_ = t; }
  // Marks a restored clone as running (called after QMP cont).
  void MarkResumed();
  void MarkPaused();

 private:
  Vm() = default;
  void MonitorLoop();
  void OnConsoleData(absl::string_view data);
  void Cleanup();

  VmSpec spec_;
  Accel accel_ = Accel::kTcg;
  pid_t pid_ = -1;
  std::string dir_;
  std::string qmp_socket_;
  std::string channel_socket_;
  std::string stderr_path_;
  std::vector<std::string> ram_files_;
  bool owns_ram_files_ = true;
  absl::Time launched_at_;
  std::optional<absl::Time> snapshot_taken_at_;
  std::unique_ptr<ConsoleLog> console_;
  std::unique_ptr<QmpClient> qmp_;
  int console_fd_ = -1;  // read end of QEMU's stdout
  std::thread monitor_;

  mutable absl::Mutex mu_;
  VmState state_ ABSL_GUARDED_BY(mu_) = VmState::kBooting;
  bool ready_seen_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time ready_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool exited_ ABSL_GUARDED_BY(mu_) = false;  // reaped
  bool kill_requested_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<int> wait_status_ ABSL_GUARDED_BY(mu_);
  CrashDetector detector_ ABSL_GUARDED_BY(mu_);
  std::string line_ ABSL_GUARDED_BY(mu_);  // partial console line for the marker scan
};

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_VM_H_
