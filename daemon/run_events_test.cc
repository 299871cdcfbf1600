// WatcherQueue: a slow watcher's outbox stays bounded, loses only output lines, and says how
// many it lost.
#include "daemon/run_events.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ktstr::daemon {
namespace {

using ktstr::v1::JobOutput;
using ktstr::v1::RunEvent;

RunEvent Output(uint32_t job, const std::string& line) {
  RunEvent ev;
  ev.set_run_id("r1");
  ev.mutable_output()->set_job_index(job);
  ev.mutable_output()->set_stream(JobOutput::STREAM_SCHEDULER);
  ev.mutable_output()->set_line(line);
  return ev;
}

RunEvent Finished(uint32_t job) {
  RunEvent ev;
  ev.set_run_id("r1");
  ev.mutable_finished()->mutable_job()->set_index(job);
  return ev;
}

std::vector<RunEvent> DrainAll(WatcherQueue& q) {
  std::vector<RunEvent> out;
  while (std::optional<RunEvent> ev = q.Pop()) out.push_back(*std::move(ev));
  return out;
}

TEST(WatcherQueueTest, KeepsEverythingInOrderUnderTheBound) {
  WatcherQueue q(1 << 20);
  q.Push(Output(0, "a"));
  q.Push(Finished(0));
  q.Push(Output(1, "b"));
  std::vector<RunEvent> got = DrainAll(q);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].output().line(), "a");
  EXPECT_TRUE(got[1].has_finished());
  EXPECT_EQ(got[2].output().line(), "b");
  EXPECT_EQ(q.output_bytes(), 0u);
}

TEST(WatcherQueueTest, OverTheBoundOutputIsDroppedCountedAndVerdictsKept) {
  WatcherQueue q(4096);
  const std::string line(100, 'x');
  for (int i = 0; i < 1000; ++i) q.Push(Output(2, line));  // ~164 KB offered
  q.Push(Finished(2));
  EXPECT_LE(q.output_bytes(), 4096u + 200);
  std::vector<RunEvent> got = DrainAll(q);
  ASSERT_GE(got.size(), 3u);
  // Kept lines, then one notice in the dropped lines' job and stream, then the verdict.
  const RunEvent& notice = got[got.size() - 2];
  EXPECT_EQ(notice.output().job_index(), 2u);
  EXPECT_EQ(notice.output().stream(), JobOutput::STREAM_SCHEDULER);
  const size_t kept = got.size() - 2;
  EXPECT_TRUE(absl::StrContains(notice.output().line(),
                                absl::StrCat(1000 - kept, " output lines dropped")))
      << notice.output().line();
  EXPECT_TRUE(got.back().has_finished());
  EXPECT_EQ(q.output_bytes(), 0u);
}

TEST(WatcherQueueTest, OutputFlowsAgainOnceTheWatcherCatchesUp) {
  WatcherQueue q(1000);
  for (int i = 0; i < 100; ++i) q.Push(Output(0, "line"));  // 68 bytes each: 14 fit
  DrainAll(q);
  q.Push(Output(0, "after"));
  std::vector<RunEvent> got = DrainAll(q);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(absl::StrContains(got[0].output().line(), "86 output lines dropped"))
      << got[0].output().line();
  EXPECT_EQ(got[1].output().line(), "after");
}

TEST(WatcherQueueTest, EmptyLinesCostToo) {
  WatcherQueue q(1000);
  for (int i = 0; i < 100000; ++i) q.Push(Output(0, ""));
  EXPECT_LE(DrainAll(q).size(), 20u);
}

}  // namespace
}  // namespace ktstr::daemon
