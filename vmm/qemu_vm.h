// QemuVm: a Vm backed by a QEMU child process (q35, PVH vmlinux, TCG or KVM).
#ifndef KTSTR_VMM_QEMU_VM_H_
#define KTSTR_VMM_QEMU_VM_H_

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
#include "vmm/console_log.h"
#include "vmm/crash_detector.h"
#include "vmm/qmp.h"
#include "vmm/vm.h"
#include "vmm/vm_spec.h"

namespace ktstr::vmm {

namespace config {
// After a fatal line before ready, how long to let the kernel finish printing the report
// (the panic follows the Oops within milliseconds, and QEMU then exits).
inline constexpr absl::Duration kCrashSettleTime = absl::Seconds(3);
// How long QEMU gets to create its QMP socket.
inline constexpr absl::Duration kQmpConnectTimeout = absl::Seconds(20);
}  // namespace config

// How a QemuVm is started; Boot covers the common case, snapshot.h uses the rest.
struct LaunchOptions {
  // Map existing RAM files (a snapshot's) copy-on-write instead of creating owned ones.
  std::vector<std::string> clone_ram_files;
  bool incoming = false;  // -incoming defer
};

class QemuVm final : public Vm {
 public:
  // Launch + WaitReady(launched_at + spec.boot_timeout); see Vm::Boot.
  static absl::StatusOr<std::unique_ptr<QemuVm>> Boot(const VmSpec& spec,
                                                      BootFailure* failure = nullptr);
  // Starts QEMU and connects QMP without waiting for the guest (state kBooting, or
  // kRestoring with options.incoming).
  static absl::StatusOr<std::unique_ptr<QemuVm>> Launch(const VmSpec& spec,
                                                        const LaunchOptions& options);
  ~QemuVm() override;
  QemuVm(const QemuVm&) = delete;
  QemuVm& operator=(const QemuVm&) = delete;

  // Waits until ready, a fatal crash, QEMU's exit or `deadline`; on failure kills the VM.
  absl::Status WaitReady(absl::Time deadline, BootFailure* failure = nullptr);

  // Vm:
  VmState state() const override;
  const VmSpec& spec() const override { return spec_; }
  Accel accel() const override { return accel_; }
  pid_t pid() const override { return pid_; }
  const std::string& channel_socket_path() const override { return channel_socket_; }
  std::string ConsoleText() const override { return console_->Text(); }
  std::vector<CrashReport> Crashes() const override;
  bool HasFatalCrash() const override;
  absl::Time launched_at() const override { return launched_at_; }
  absl::Time ready_at() const override;
  std::optional<absl::Time> snapshot_taken_at() const override { return snapshot_taken_at_; }
  bool WaitExited(absl::Duration timeout) override;
  void Kill() override;  // SIGKILL to the process group, then reap

  // QEMU specifics:
  const std::string& qmp_socket_path() const { return qmp_socket_; }
  const std::string& console_log_path() const { return console_->path(); }
  // The QMP connection (established at launch). One caller at a time.
  QmpClient& qmp() { return *qmp_; }
  std::string QemuStderr() const;
  // Exit status from waitpid once kExited/kKilled.
  std::optional<int> wait_status() const;
  // RAM files, one per NUMA node: created and owned by a booted VM (tmpfs; the host can
  // read guest memory from them), or a snapshot's files mapped copy-on-write by a clone.
  const std::vector<std::string>& ram_files() const { return ram_files_; }
  // Hands the RAM files to the caller (a snapshot); the VM no longer deletes them.
  std::vector<std::string> ReleaseRamFiles();
  void set_snapshot_taken_at(absl::Time t) { snapshot_taken_at_ = t; }
  // State changes driven through QMP by snapshot.cc.
  void MarkResumed();
  void MarkPaused();

 private:
  QemuVm() = default;
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

// The production VmLauncher: QemuVm::Boot and Snapshot::Take.
class QemuLauncher final : public VmLauncher {
 public:
  absl::StatusOr<std::unique_ptr<Vm>> Boot(const VmSpec& spec, BootFailure* failure) override;
  // `vm` must be a ready QemuVm.
  absl::StatusOr<std::unique_ptr<VmTemplate>> SaveTemplate(std::unique_ptr<Vm> vm) override;
};

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_QEMU_VM_H_
