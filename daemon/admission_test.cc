#include "daemon/admission.h"

#include "gtest/gtest.h"

namespace ktstr::daemon {
namespace {

TEST(Admission, RoundRobinBetweenRuns) {
  Admission a({100, 100000});
  for (uint32_t i = 0; i < 3; ++i) a.Enqueue("big", i, {1, 1});
  a.Enqueue("small", 0, {1, 1});
  EXPECT_EQ(a.Position("small", 0), 1);  // second, not behind all of "big"
  EXPECT_EQ(a.Next()->run_id, "big");
  EXPECT_EQ(a.Next()->run_id, "small");
  EXPECT_EQ(a.Next()->run_id, "big");
  auto last = a.Next();
  EXPECT_EQ(last->run_id, "big");
  EXPECT_EQ(last->index, 2u);
  EXPECT_FALSE(a.Next().has_value());
  EXPECT_EQ(a.in_use().vcpus, 4u);
}

TEST(Admission, StaysWithinBudgetAndReleases) {
  Admission a({8, 4096});
  a.Enqueue("r", 0, {4, 1024});
  a.Enqueue("r", 1, {4, 1024});
  a.Enqueue("r", 2, {4, 1024});
  ASSERT_TRUE(a.Next());
  ASSERT_TRUE(a.Next());
  EXPECT_FALSE(a.Next().has_value());  // 12 vCPUs would exceed 8
  a.Release({4, 1024});
  auto third = a.Next();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->index, 2u);
}

TEST(Admission, MemoryBudgetCounts) {
  Admission a({64, 1000});
  a.Enqueue("r", 0, {1, 600});
  a.Enqueue("r", 1, {1, 600});
  ASSERT_TRUE(a.Next());
  EXPECT_FALSE(a.Next().has_value());
}

TEST(Admission, OversizedJobRunsAloneOnlyWhenIdle) {
  Admission a({2, 1024});
  a.Enqueue("small", 0, {1, 256});
  a.Enqueue("huge", 0, {8, 512});
  ASSERT_EQ(a.Next()->run_id, "small");
  EXPECT_FALSE(a.Next().has_value());  // huge waits while anything runs
  a.Release({1, 256});
  EXPECT_EQ(a.Next()->run_id, "huge");
}

TEST(Admission, RemoveRunDropsQueuedJobs) {
  Admission a({1, 1024});
  a.Enqueue("a", 0, {1, 1});
  a.Enqueue("a", 1, {1, 1});
  a.Enqueue("b", 0, {1, 1});
  auto removed = a.RemoveRun("a");
  EXPECT_EQ(removed, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(a.queued(), 1u);
  EXPECT_EQ(a.Position("a", 0), -1);
  EXPECT_EQ(a.Next()->run_id, "b");
}

}  // namespace
}  // namespace ktstr::daemon
