// The Shell RPC's stream (bidirectional): the first ShellInput must be ShellStart, then
// stdin and resizes go to the ShellSession (daemon/shell_session.h) running on its own
// thread; its status lines and terminal output are written back one at a time, then the
// exit code, then OK. Errors before or during the shell end the stream with their status.
// A client that goes away cancels the session (its VM is destroyed).
#ifndef KTSTR_DAEMON_SHELL_REACTOR_H_
#define KTSTR_DAEMON_SHELL_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "daemon/shell_session.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace ktstr::daemon {

namespace config {
// Terminal output queued for a client that reads slower than the guest writes. At the limit
// the session's output callback waits (the guest's writes then block, as on a real
// terminal) until the client catches up or the session is aborted.
inline constexpr size_t kMaxQueuedShellOutput = 4 << 20;
}  // namespace config

class ShellReactor : public grpc::ServerBidiReactor<ktstr::v1::ShellInput, ktstr::v1::ShellOutput> {
 public:
  explicit ShellReactor(ShellDeps deps);
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Handles the first message: creates and starts the session, or finishes with the error.
  void Start();
  // From the session's thread.
  void Queue(ktstr::v1::ShellOutput out);
  void Complete(const absl::StatusOr<int>& result);
  // Starts the next write, or finishes once the session ended and everything was written.
  void Pump();
  void FinishEarly(const absl::Status& s);

  const ShellDeps deps_;
  ktstr::v1::ShellInput in_;
  // Set once, under mu_, by the first OnReadDone; read without it by the later reactions.
  std::unique_ptr<ShellSession> session_;
  std::thread runner_;
  absl::Mutex mu_;
  std::deque<ktstr::v1::ShellOutput> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  ktstr::v1::ShellOutput current_;  // the one outstanding write
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;    // a write failed: the client is gone
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Finish was called
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> final_ ABSL_GUARDED_BY(mu_);  // the session's end
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_SHELL_REACTOR_H_
