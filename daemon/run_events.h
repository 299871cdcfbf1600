// The event history of one run, replayed to every watcher and then continued live.
// Thread-safe. Subscribers are called with the log's mutex held, in order, so they must not
// call back into the log (they queue the event and return).
#ifndef KTSTR_DAEMON_RUN_EVENTS_H_
#define KTSTR_DAEMON_RUN_EVENTS_H_

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/ktstr/v1/run.pb.h"

namespace ktstr::daemon {

namespace config {
// Output lines kept for replay per run; later lines still go to live subscribers. Bounds
// the daemon's memory when a test floods stdout.
inline constexpr size_t kMaxReplayedOutputLines = 5000;
// Output bytes (text plus a fixed cost per line) one watcher may have waiting for its stream
// (a client reading slowly) before later output lines are dropped for it. Bounds the
// daemon's memory per watcher.
inline constexpr size_t kMaxQueuedOutputBytes = 4 << 20;
}  // namespace config

class RunEventLog {
 public:
  using Subscriber = std::function<void(const ktstr::v1::RunEvent&)>;

  // Appends and delivers; after a RunFinished event the log is closed and Append is a no-op.
  void Append(const ktstr::v1::RunEvent& ev);
  // Replays the history to `fn`, then delivers every later event. Returns an id for
  // Unsubscribe. Unsubscribe guarantees `fn` is not running and will not run again.
  int Subscribe(Subscriber fn);
  void Unsubscribe(int id);
  bool closed() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<ktstr::v1::RunEvent> history_ ABSL_GUARDED_BY(mu_);
  size_t output_lines_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int, Subscriber> subscribers_ ABSL_GUARDED_BY(mu_);
};

// One watcher's outbox: events wait here until its stream takes them. Output lines beyond
// `max_output_bytes` are dropped and stood in for by one notice line that counts them (in the
// dropped lines' job and stream, before the next event that is kept); every other event is
// always kept, so a slow watcher still gets every verdict. Not thread-safe: its owner locks.
class WatcherQueue {
 public:
  explicit WatcherQueue(size_t max_output_bytes = config::kMaxQueuedOutputBytes)
      : max_output_bytes_(max_output_bytes) {}
  void Push(const ktstr::v1::RunEvent& ev);
  std::optional<ktstr::v1::RunEvent> Pop();
  size_t output_bytes() const { return output_bytes_; }

 private:
  void PushNotice();

  const size_t max_output_bytes_;
  std::deque<ktstr::v1::RunEvent> queue_;
  size_t output_bytes_ = 0;
  size_t dropped_ = 0;
  ktstr::v1::RunEvent first_dropped_;
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_RUN_EVENTS_H_
