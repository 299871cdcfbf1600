#include "daemon/leased_shell_vm.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/vm_crash.h"

namespace ktstr::daemon {
namespace {

class LeasedShellVm : public ShellVm {
 public:
  LeasedShellVm(std::unique_ptr<LeasedVm> vm, std::function<void()> on_destroyed)
      : leased_(std::move(vm)), on_destroyed_(std::move(on_destroyed)) {}
  ~LeasedShellVm() override {
    leased_.reset();  // kills QEMU, forgets its pid record
    if (on_destroyed_) on_destroyed_();
  }

  std::string id() const override { return leased_->id; }
  bool warm() const override { return leased_->warm; }

  absl::Status PutFile(const GuestFileSource& f, absl::Time deadline) override {
    return leased_->agent->PutFile(f.host_path, f.guest_path, f.mode, deadline).status();
  }

  absl::StatusOr<int> RunOnPty(const PtyCommand& cmd, const OutputFn& output,
                               const std::function<void()>& on_started,
                               absl::Time deadline) override {
    agent::v1::Exec exec;
    for (const std::string& a : cmd.argv) exec.add_argv(a);
    for (const auto& [k, v] : cmd.env) (*exec.mutable_env())[k] = v;
    exec.set_pty(true);
    exec.set_stdin_open(true);
    exec.set_pty_rows(cmd.rows);
    exec.set_pty_cols(cmd.cols);
    absl::StatusOr<agent::v1::ExecExit> exit = leased_->agent->Exec(
        exec, [&](agent::v1::Output::Stream, absl::string_view data) { output(data); },
        deadline, [&](uint64_t id) {
          exec_id_.store(id);
          on_started();
        });
    if (!exit.ok()) {
      if (exit.status().code() == absl::StatusCode::kDeadlineExceeded) return exit.status();
      // Killed on purpose (timeout, cancel, shutdown): the session says why.
      if (killed_.load()) return absl::UnavailableError("the shell's VM was killed");
      if (std::optional<CrashObservation> crash = AwaitFatalCrash(*leased_->vm, config::kCrashSettle)) {
        return absl::UnavailableError(
            absl::StrCat("the guest kernel crashed: ", crash->headline));
      }
      return absl::UnavailableError(
          absl::StrCat("lost the guest agent: ", exit.status().message()));
    }
    return exit->signal() != 0 ? 128 + exit->signal() : exit->exit_code();
  }

  absl::Status SendStdin(absl::string_view data) override {
    return leased_->agent->SendStdin(exec_id_.load(), data, false,
                                     absl::Now() + config::kShellAgentCallTimeout);
  }
  absl::Status Resize(uint32_t rows, uint32_t cols) override {
    return leased_->agent->ResizePty(exec_id_.load(), rows, cols,
                                     absl::Now() + config::kShellAgentCallTimeout);
  }
  void Kill() override {
    killed_.store(true);
    leased_->vm->Kill();
  }

 private:
  std::unique_ptr<LeasedVm> leased_;
  std::function<void()> on_destroyed_;
  std::atomic<uint64_t> exec_id_{0};
  std::atomic<bool> killed_{false};
};

}  // namespace

std::unique_ptr<ShellVm> MakeLeasedShellVm(std::unique_ptr<LeasedVm> vm,
                                           std::function<void()> on_destroyed) {
  return std::make_unique<LeasedShellVm>(std::move(vm), std::move(on_destroyed));
}

}  // namespace ktstr::daemon
