#include "guest_agent/log_follower.h"

#include <fstream>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace ktstr::agent {
namespace {

class Collected {
 public:
  void Add(absl::string_view d) {
    absl::MutexLock lock(&mu_);
    text_.append(d.data(), d.size());
  }
  // Waits (bounded) until everything delivered so far equals `want`.
  bool WaitFor(const std::string& want) {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return text_ == want; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(10));
  }
  std::string text() {
    absl::MutexLock lock(&mu_);
    return text_;
  }

 private:
  absl::Mutex mu_;
  std::string text_;
};

std::string TempPath(const char* name) { return std::string(getenv("TEST_TMPDIR")) + "/" + name; }

void Append(const std::string& path, const std::string& s) {
  std::ofstream(path, std::ios::app) << s << std::flush;
}

TEST(LogFollowerTest, DeliversWritesWhileTheyHappenInOrder) {
  const std::string path = TempPath("live.log");
  Collected got;
  LogFollower f(path, [&](absl::string_view d) { got.Add(d); }, absl::Milliseconds(10));
  // The file does not exist yet: a loader creates its log after the follower starts.
  Append(path, "attached\n");
  ASSERT_TRUE(got.WaitFor("attached\n")) << got.text();
  Append(path, "stats 1\n");
  ASSERT_TRUE(got.WaitFor("attached\nstats 1\n")) << got.text();
}

TEST(LogFollowerTest, DestructorDeliversTheLastWrites) {
  const std::string path = TempPath("tail.log");
  Collected got;
  {
    // An interval far longer than the test: only the destructor's drain can deliver.
    LogFollower f(path, [&](absl::string_view d) { got.Add(d); }, absl::Hours(1));
    Append(path, std::string(40000, 'x') + "\nEXIT: runnable task stall\n");
  }
  EXPECT_EQ(got.text(), std::string(40000, 'x') + "\nEXIT: runnable task stall\n");
}

TEST(LogFollowerTest, AFileThatNeverAppearsDeliversNothing) {
  Collected got;
  { LogFollower f(TempPath("never.log"), [&](absl::string_view d) { got.Add(d); }); }
  EXPECT_EQ(got.text(), "");
}

}  // namespace
}  // namespace ktstr::agent
