// VmSpec: everything needed to boot one VM.
#ifndef KTSTR_VMM_VM_SPEC_H_
#define KTSTR_VMM_VM_SPEC_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "vmm/accel.h"
#include "vmm/topology.h"

namespace ktstr::vmm {

namespace config {
// The line the guest prints on ttyS0 once it serves the channel (ARCHITECTURE.md).
inline constexpr char kReadyMarker[] = "KTSTR_AGENT_READY";
// The virtio-serial port name the guest agent looks for.
inline constexpr char kChannelPortName[] = "ktstr.agent";
inline constexpr char kQemuBinary[] = "/usr/bin/qemu-system-x86_64";
// Cold boot under TCG takes 3-5 s idle and >10 s on the loaded 2-core machine with many
// vCPUs; a minute catches real hangs without failing slow-but-healthy boots.
inline constexpr absl::Duration kDefaultBootTimeout = absl::Seconds(90);
// A VM that outlives this is killed whatever it is doing (pool VMs are recycled well before).
inline constexpr absl::Duration kDefaultLifetime = absl::Hours(2);
// How often a Boot waiting for its guest looks at its BootCanceller.
inline constexpr absl::Duration kBootCancelPoll = absl::Milliseconds(100);
// Per-VM console log file cap; the tail beyond it is kept in memory only.
inline constexpr size_t kConsoleLogFileLimit = 8 << 20;
}  // namespace config

// Ends a cold boot early from another thread (daemon shutdown, a cancelled job): a Boot
// waiting for its guest kills QEMU and returns CANCELLED (BootFailureKind::kCancelled).
// Cancelled too when any of its parents is, so a job's canceller can follow its pool's.
// One-way: never reset. Thread-safe.
class BootCanceller {
 public:
  explicit BootCanceller(std::vector<std::shared_ptr<const BootCanceller>> parents = {})
      : parents_(std::move(parents)) {}
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const {
    if (cancelled_.load()) return true;
    for (const auto& p : parents_) {
      if (p->cancelled()) return true;
    }
    return false;
  }

 private:
  const std::vector<std::shared_ptr<const BootCanceller>> parents_;
  std::atomic<bool> cancelled_{false};
};

struct VmSpec {
  std::string kernel_path;     // ELF vmlinux (PVH) or bzImage
  std::string initramfs_path;  // cpio newc, optionally compressed
  Topology topology;
  int memory_mb = 1024;
  // Appended after the fixed command line (qemu_args.h: FixedKernelArgs).
  std::vector<std::string> extra_kernel_args;
  Accel accel = Accel::kAuto;
  // TCG only. Single-threaded TCG is the default: multi-threaded TCG Oopsed the guest in 5 of
  // ~75 boots here. Multi-threaded is much faster for big topologies (192 vCPUs did
  // not reach /init in 240 s single-threaded on the loaded 2-core host); opt in knowingly.
  bool tcg_multi_thread = false;
  absl::Duration boot_timeout = config::kDefaultBootTimeout;
  // Hard lifetime from launch; the VM is killed when it expires. InfiniteDuration: none.
  absl::Duration lifetime = config::kDefaultLifetime;
  // Parent of the per-VM directory holding sockets and the console log. Must be short:
  // unix socket paths are limited to 107 bytes.
  std::string work_dir = "/tmp";
  // Where guest RAM files live (tmpfs, so clones can map them).
  std::string ram_dir = "/dev/shm";
  std::string qemu_binary = config::kQemuBinary;
  // Empty: the console log lives in the VM's work directory and goes with it. Set: it is
  // written here and kept (the caller owns the file).
  std::string console_log_path;
  // Checked while Boot waits for the guest; null = only the boot timeout ends the wait.
  std::shared_ptr<const BootCanceller> boot_canceller;

  // Kernel, initramfs and topology/memory are checked; files must exist.
  absl::Status Validate() const;
};

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_VM_SPEC_H_
