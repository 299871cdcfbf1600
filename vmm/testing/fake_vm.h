// Test-only VmLauncher/Vm/VmTemplate without QEMU, for the daemon's pool and dispatcher
// tests. A FakeVm has no guest: its channel path names no socket unless the test serves one
// there (e.g. the guest agent run with --no-pid1). Boots and clones succeed immediately
// unless failures were queued.
#ifndef KTSTR_VMM_TESTING_FAKE_VM_H_
#define KTSTR_VMM_TESTING_FAKE_VM_H_

#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "vmm/vm.h"

namespace ktstr::vmm::testing {

class FakeVm final : public Vm {
 public:
  FakeVm(VmSpec spec, std::string channel_socket_path, std::string console);

  VmState state() const override;
  const VmSpec& spec() const override { return spec_; }
  Accel accel() const override { return Accel::kTcg; }
  pid_t pid() const override { return -1; }
  const std::string& channel_socket_path() const override { return channel_; }
  std::string ConsoleText() const override;
  std::vector<CrashReport> Crashes() const override;
  bool HasFatalCrash() const override;
  absl::Time launched_at() const override { return launched_at_; }
  absl::Time ready_at() const override { return launched_at_; }
  std::optional<absl::Time> snapshot_taken_at() const override { return snapshot_taken_at_; }
  bool WaitExited(absl::Duration timeout) override;
  void Kill() override;

  // Test controls: append console text (run through the real crash detector), or make the
  // "guest" exit by itself.
  void AppendConsole(absl::string_view text);
  void Exit();
  void set_snapshot_taken_at(absl::Time t) { snapshot_taken_at_ = t; }

 private:
  const VmSpec spec_;
  const std::string channel_;
  const absl::Time launched_at_ = absl::Now();
  std::optional<absl::Time> snapshot_taken_at_;
  mutable absl::Mutex mu_;
  VmState state_ ABSL_GUARDED_BY(mu_) = VmState::kReady;
  std::string console_ ABSL_GUARDED_BY(mu_);
  CrashDetector detector_ ABSL_GUARDED_BY(mu_);
};

class FakeLauncher final : public VmLauncher {
 public:
  absl::StatusOr<std::unique_ptr<Vm>> Boot(const VmSpec& spec, BootFailure* failure) override;
  absl::StatusOr<std::unique_ptr<VmTemplate>> SaveTemplate(std::unique_ptr<Vm> vm) override;

  // The next Boot (or clone start, in order) fails with this kind. kCancelled: that boot
  // hangs, as a guest that never gets ready, until its spec's boot_canceller fires (then
  // CANCELLED) or a minute passes (then DEADLINE_EXCEEDED).
  void QueueBootFailure(BootFailureKind kind);
  int boots() const;
  int clones() const;
  int cancelled_boots() const;  // hanging boots that ended by their canceller

 private:
  friend class FakeTemplate;
  absl::StatusOr<std::unique_ptr<Vm>> Start(const VmSpec& spec, BootFailure* failure, bool clone,
                                            absl::Time taken_at);

  mutable absl::Mutex mu_;
  std::deque<BootFailureKind> failures_ ABSL_GUARDED_BY(mu_);
  int boots_ ABSL_GUARDED_BY(mu_) = 0;
  int clones_ ABSL_GUARDED_BY(mu_) = 0;
  int cancelled_boots_ ABSL_GUARDED_BY(mu_) = 0;
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ktstr::vmm::testing

#endif  // KTSTR_VMM_TESTING_FAKE_VM_H_
