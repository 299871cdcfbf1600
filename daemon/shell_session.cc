#include "daemon/shell_session.h"

#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "daemon/shape.h"
#include "spdlog/spdlog.h"

namespace ktstr::daemon {
namespace {

// The terminal's end-of-file character (VEOF, ^D): what a closed input becomes on a pty.
constexpr char kTerminalEof[] = "\x04";

absl::Status BadGuestPath(const std::string& path) {
  if (!path.empty() && path[0] == '/' && path.find("..") == std::string::npos) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("file guest_path must be absolute without '..': '", path, "'"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShellSession>> ShellSession::Create(
    const ktstr::v1::ShellStart& start, const ShellDeps& deps, std::string name) {
  if (absl::Status s = ValidateShape(start.shape()); !s.ok()) return s;
  if (absl::Status s = ValidateKernelArgs(start.kernel_args()); !s.ok()) return s;
  absl::StatusOr<ResolvedKernel> kernel = deps.kernels->Resolve(start.kernel());
  if (!kernel.ok()) return kernel.status();
  std::unique_ptr<ShellSession> s(new ShellSession(std::move(name), deps));
  s->kernel_ = *std::move(kernel);
  s->vm_request_.kernel_key = s->kernel_.key;
  s->vm_request_.kernel_image_path = s->kernel_.image_path;
  s->vm_request_.shape = start.shape();
  s->vm_request_.kernel_args = start.kernel_args();
  for (const ktstr::v1::GuestFile& f : start.files()) {
    if (absl::Status bad = BadGuestPath(f.guest_path()); !bad.ok()) return bad;
    absl::StatusOr<std::string> path = deps.artifacts->VerifiedPath(f.artifact().sha256());
    if (!path.ok()) {
      return absl::Status(path.status().code(),
                          absl::StrCat("file ", f.guest_path(), ": ", path.status().message(),
                                       " (upload it first: UploadArtifact)"));
    }
    s->files_.push_back({*path, f.guest_path(), f.mode() ? f.mode() : 0644});
  }
  PtyCommand& cmd = s->command_;
  cmd.argv.assign(start.command().begin(), start.command().end());
  if (cmd.argv.empty()) cmd.argv = {config::kDefaultShell};
  if (cmd.argv[0].empty()) return absl::InvalidArgumentError("command[0] is empty");
  // busybox ash needs no terminfo; TERM only tells programs the terminal speaks ANSI.
  cmd.env = {{"TERM", "xterm"}, {"HOME", "/"}, {"PS1", "ktstr:\\w# "}};
  cmd.rows = start.rows() ? start.rows() : 24;
  cmd.cols = start.cols() ? start.cols() : 80;
  s->timeout_ = absl::Seconds(start.timeout_s() ? start.timeout_s()
                                                : config::kDefaultShellTimeoutS);
  return s;
}

ShellSession::~ShellSession() = default;

void ShellSession::SetState(State s) {
  absl::MutexLock lock(&mu_);
  state_ = s;
}

ShellSession::State ShellSession::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

void ShellSession::Enqueue(Input in) {
  bool overflow = false;
  {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kFinished || overflow_) return;
    pending_bytes_ += in.data.size();
    if (state_ != State::kRunning && pending_bytes_ > config::kMaxPendingStdin) {
      overflow = overflow_ = true;
      input_.clear();
    } else {
      input_.push_back(std::move(in));
    }
  }
  if (overflow) abort_.Abort(AbortReason::kCancelled);
}

void ShellSession::Stdin(std::string data) { Enqueue(Input{std::move(data)}); }
void ShellSession::StdinEof() { Enqueue(Input{kTerminalEof}); }
void ShellSession::Resize(uint32_t rows, uint32_t cols) {
  if (rows > 0 && cols > 0) Enqueue(Input{"", rows, cols});
}
void ShellSession::Cancel() { abort_.Abort(AbortReason::kCancelled); }

absl::StatusOr<int> ShellSession::Run(const ShellSink& sink) {
  absl::StatusOr<int> code = RunToEnd(sink);
  if (code.ok()) {
    spdlog::info("shell {}: exited with {}", name_, *code);
  } else {
    spdlog::info("shell {}: ended: {}", name_, code.status().ToString());
  }
  return code;
}

absl::StatusOr<int> ShellSession::RunToEnd(const ShellSink& sink) {
  // timeout_s is the hard lifetime of the whole session, boot included.
  absl::Notification done;
  std::thread watchdog([this, &done] {
    if (!done.WaitForNotificationWithTimeout(timeout_)) abort_.Abort(AbortReason::kTimeout);
  });
  absl::Cleanup stop_watchdog = [&] {
    SetState(State::kFinished);
    done.Notify();
    watchdog.join();
  };
  auto aborted_status = [this]() -> absl::Status {
    {
      absl::MutexLock lock(&mu_);
      if (overflow_) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "more than ", config::kMaxPendingStdin, " bytes of input before the shell started"));
      }
    }
    switch (abort_.reason()) {
      case AbortReason::kTimeout:
        return absl::DeadlineExceededError(
            absl::StrCat("the shell's lifetime (timeout_s = ", absl::ToInt64Seconds(timeout_),
                         ") ran out; its VM was destroyed"));
      case AbortReason::kShutdown:
        return absl::UnavailableError("ktstrd is stopping; the shell's VM was destroyed");
      default:
        return absl::CancelledError("the shell was cancelled (client gone)");
    }
  };

  SetState(State::kWaitingForBudget);
  const ktstr::v1::VmShape& shape = vm_request_.shape;
  Resources cost{VcpuCount(shape.topology()), EffectiveMemoryMb(shape)};
  absl::StatusOr<std::unique_ptr<BudgetHold>> hold =
      deps_.dispatcher->HoldBudget("shell-" + name_, cost, &abort_);
  if (!hold.ok()) return abort_.aborted() ? aborted_status() : hold.status();

  SetState(State::kBooting);
  const std::string topo = TopologyString(shape.topology());
  sink.status(absl::StrCat("booting ", topo, " on ", kernel_.key));
  spdlog::info("shell {}: booting {} on {}", name_, topo, kernel_.key);
  const absl::Time t0 = absl::Now();
  absl::StatusOr<std::unique_ptr<ShellVm>> started = deps_.executor->StartShellVm(vm_request_, abort_);
  if (!started.ok()) {
    if (abort_.aborted()) return aborted_status();
    return absl::Status(started.status().code() == absl::StatusCode::kUnimplemented
                            ? started.status().code()
                            : absl::StatusCode::kUnavailable,
                        absl::StrCat("could not get a VM: ", started.status().message()));
  }
  // Shared with the abort hook, so a Kill running on another thread never outlives the VM;
  // the VM is destroyed before the budget hold (declaration order).
  std::shared_ptr<ShellVm> vm = std::move(*started);
  abort_.OnAbort([weak = std::weak_ptr<ShellVm>(vm)] {
    if (std::shared_ptr<ShellVm> v = weak.lock()) v->Kill();
  });
  absl::Cleanup unhook = [this] { abort_.OnAbort([] {}); };
  if (abort_.aborted()) return aborted_status();
  sink.status(absl::StrFormat("ready: %s (%s, %.1f s)", vm->id(),
                              vm->warm() ? "restored clone" : "cold boot",
                              absl::ToDoubleSeconds(absl::Now() - t0)));
  absl::StatusOr<int> code = RunInVm(*vm, sink);
  if (abort_.aborted()) return aborted_status();
  return code;
}

absl::StatusOr<int> ShellSession::RunInVm(ShellVm& vm, const ShellSink& sink) {
  SetState(State::kPlacingFiles);
  for (const GuestFileSource& f : files_) {
    absl::Status put = vm.PutFile(f, absl::Now() + config::kShellAgentCallTimeout);
    if (!put.ok()) {
      return absl::Status(put.code(), absl::StrCat("placing ", f.guest_path, " in the guest: ",
                                                   put.message()));
    }
  }
  std::thread input;
  absl::Cleanup join_input = [&] {
    SetState(State::kFinished);  // ends InputLoop
    if (input.joinable()) input.join();
  };
  auto on_started = [&] {
    SetState(State::kRunning);
    input = std::thread([this, &vm] { InputLoop(&vm); });
  };
  // The watchdog kills the VM at the timeout; the deadline here is only a backstop.
  return vm.RunOnPty(command_, sink.output, on_started, absl::Now() + timeout_ + absl::Minutes(1));
}

void ShellSession::InputLoop(ShellVm* vm) {
  while (true) {
    Input in;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return state_ == State::kFinished || !input_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (state_ == State::kFinished) return;
      in = std::move(input_.front());
      input_.pop_front();
      pending_bytes_ -= in.data.size();
    }
    absl::Status s = in.rows > 0 ? vm->Resize(in.rows, in.cols) : vm->SendStdin(in.data);
    // The command may have exited a moment ago; its exit ends the session anyway.
    if (!s.ok()) spdlog::debug("shell {}: input not delivered: {}", name_, s.ToString());
  }
}

}  // namespace ktstr::daemon
