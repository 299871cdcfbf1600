// Follows a growing file (a scheduler loader's log) from its start and hands each new chunk
// to a callback from its own thread, like `tail -f`, until destroyed; the destructor reads
// what was written last (the kernel's exit dump lands at the very end). Polling, because
// inotify adds nothing at this rate and the file may not exist yet when following starts.
#ifndef KTSTR_GUEST_AGENT_LOG_FOLLOWER_H_
#define KTSTR_GUEST_AGENT_LOG_FOLLOWER_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ktstr::agent {

namespace config {
// Scheduler stats lines come about once a second; a fifth of that keeps them live.
inline constexpr absl::Duration kLogFollowInterval = absl::Milliseconds(200);
}  // namespace config

class LogFollower {
 public:
  using OnData = std::function<void(absl::string_view)>;
  LogFollower(std::string path, OnData on_data,
              absl::Duration interval = config::kLogFollowInterval);
  ~LogFollower();  // stops, then delivers what is left
  LogFollower(const LogFollower&) = delete;
  LogFollower& operator=(const LogFollower&) = delete;

 private:
  void Loop();
  void Drain();  // only from the follower thread, or after it ended

  const std::string path_;
  const OnData on_data_;
  const absl::Duration interval_;
  int fd_ = -1;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_LOG_FOLLOWER_H_
