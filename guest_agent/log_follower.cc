#include "guest_agent/log_follower.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace ktstr::agent {

LogFollower::LogFollower(std::string path, OnData on_data, absl::Duration interval)
    : path_(std::move(path)), on_data_(std::move(on_data)), interval_(interval) {
  thread_ = std::thread([this] { Loop(); });
}

LogFollower::~LogFollower() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
  Drain();
  if (fd_ >= 0) close(fd_);
}

void LogFollower::Loop() {
  while (true) {
    Drain();
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), interval_)) return;
  }
}

void LogFollower::Drain() {
  if (fd_ < 0) {
    fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return;  // not created yet
  }
  char buf[16 * 1024];
  while (true) {
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // end of what is written so far
    on_data_(absl::string_view(buf, static_cast<size_t>(n)));
  }
}

}  // namespace ktstr::agent
