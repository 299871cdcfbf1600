// One interactive shell (the Shell RPC's core; no gRPC here): resolves the kernel, holds
// its VM's share of the admission budget like a job, gets a VM of the requested shape from
// the executor, places the caller's files, runs the command (or busybox sh) on a pty and
// relays stdin, resizes and terminal output until it exits. The VM is destroyed when the
// command exits, when the caller cancels (client gone) or when timeout_s passes.
//
// Lifecycle: kCreated -> kWaitingForBudget -> kBooting -> kPlacingFiles -> kRunning ->
// kFinished; Cancel() or the timeout moves any state to kFinished within seconds (a VM
// that is still booting is destroyed as soon as its boot returns).
#ifndef KTSTR_DAEMON_SHELL_SESSION_H_
#define KTSTR_DAEMON_SHELL_SESSION_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/artifact_store.h"
#include "daemon/dispatcher.h"
#include "daemon/job_executor.h"
#include "daemon/kernel_resolver.h"
#include "proto/ktstr/v1/shell.pb.h"

namespace ktstr::daemon {

namespace config {
// ShellStart.timeout_s = 0: shell.proto's default hard lifetime of a shell VM.
inline constexpr uint32_t kDefaultShellTimeoutS = 3600;
// Input typed ahead while the VM boots is kept until the command runs; a caller that
// streams more than this before the shell exists is refused rather than buffered forever.
inline constexpr size_t kMaxPendingStdin = 1 << 20;
// What an empty ShellStart.command runs: the guest's busybox (in every initramfs, with
// its applet links) as an interactive shell.
inline constexpr char kDefaultShell[] = "/bin/sh";
}  // namespace config

struct ShellDeps {
  KernelResolver* kernels = nullptr;
  ArtifactStore* artifacts = nullptr;
  Dispatcher* dispatcher = nullptr;  // admission budget
  JobExecutor* executor = nullptr;   // makes the VM
};

// Where a session's progress and terminal output go (called from the session's threads).
struct ShellSink {
  std::function<void(const std::string&)> status;
  std::function<void(absl::string_view)> output;
};

class ShellSession {
 public:
  enum class State { kCreated, kWaitingForBudget, kBooting, kPlacingFiles, kRunning, kFinished };

  // Checks the start message without side effects: INVALID_ARGUMENT (shape, guest paths),
  // NOT_FOUND (kernel, file artifacts). `name` identifies it in logs and admission.
  static absl::StatusOr<std::unique_ptr<ShellSession>> Create(const ktstr::v1::ShellStart& start,
                                                              const ShellDeps& deps,
                                                              std::string name);
  ~ShellSession();
  ShellSession(const ShellSession&) = delete;
  ShellSession& operator=(const ShellSession&) = delete;

  // Runs the shell to its end and returns its exit code; the VM is gone when it returns.
  // CANCELLED (Cancel), DEADLINE_EXCEEDED (timeout_s), UNAVAILABLE (boot failure, VM lost,
  // ktstrd stopping), RESOURCE_EXHAUSTED (too much stdin before the shell started).
  absl::StatusOr<int> Run(const ShellSink& sink);

  // From any thread, in order: bytes typed into the terminal (kept until the command runs),
  // end of input (typed as the terminal's EOF character, ^D, which ends an interactive
  // shell like a closed pipe) and terminal resizes.
  void Stdin(std::string data);
  void StdinEof();
  void Resize(uint32_t rows, uint32_t cols);
  // The caller went away: stops waiting and destroys the VM.
  void Cancel();

  State state() const;
  // True once cancelled, timed out or stopped by ktstrd's shutdown.
  bool aborted() const { return abort_.aborted(); }

 private:
  struct Input {
    std::string data;
    uint32_t rows = 0, cols = 0;  // a resize when rows > 0
  };

  ShellSession(std::string name, ShellDeps deps) : name_(std::move(name)), deps_(deps) {}
  void SetState(State s);
  absl::StatusOr<int> RunToEnd(const ShellSink& sink);
  absl::StatusOr<int> RunInVm(ShellVm& vm, const ShellSink& sink);
  // Forwards queued input to the running command until the session finishes.
  void InputLoop(ShellVm* vm);
  void Enqueue(Input in);

  const std::string name_;
  const ShellDeps deps_;
  ResolvedKernel kernel_;
  ShellVmRequest vm_request_;
  std::vector<GuestFileSource> files_;
  PtyCommand command_;
  absl::Duration timeout_;
  AbortSignal abort_;

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kCreated;
  std::deque<Input> input_ ABSL_GUARDED_BY(mu_);
  size_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool overflow_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_SHELL_SESSION_H_
