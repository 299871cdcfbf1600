// Dispatcher tests with the FakeExecutor (no VMs: these check queueing, admission, timeouts,
// cancel, ownership and result storage; the VM path is covered by the *_itest tests).
#include "daemon/dispatcher.h"

#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/synchronization/notification.h"
#include "daemon/cache_kernel_resolver.h"
#include "daemon/fs_util.h"
#include "daemon/testing/fake_executor.h"
#include "gtest/gtest.h"
#include "kernel_cache/kernel_cache.h"
#include "kernel_cache/testing/test_files.h"

namespace ktstr::daemon {
namespace {

using ktstr::v1::RunEvent;

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::string(getenv("TEST_TMPDIR")) + "/disp";
    RemoveTree(root_);
    {
      auto cache = *kcache::KernelCache::Open(root_ + "/kernels");
      kcache::testing::StoreTestEntry(*cache, "test-kernel", "7.3.4", 1000);
    }
    kernels_ = *NewCacheKernelResolver(root_ + "/kernels", root_ + "/default-kernel");
    results_ = *ResultStore::Open(root_ + "/results.db");
    artifacts_ = *ArtifactStore::Open(root_ + "/artifacts", 1 << 20);
    auto up = *artifacts_->BeginUpload(Sha256Hex("elf"), 3, 1);
    ASSERT_TRUE(up->Append("elf").ok());
    ASSERT_TRUE(up->Finish().ok());
  }

  void Start(Resources budget = {64, 65536}) {
    DispatcherOptions o;
    o.budget = budget;
    o.paths.state_dir = root_;
    dispatcher_ = std::make_unique<Dispatcher>(o, results_.get(), artifacts_.get(),
                                               kernels_.get(), &executor_);
  }

  ktstr::v1::JobSpec Job(const std::string& name, uint32_t cpus = 2) {
    ktstr::v1::JobSpec j;
    j.set_test_name(name);
    j.mutable_test_binary()->set_sha256(Sha256Hex("elf"));
    auto* t = j.mutable_shape()->mutable_topology();
    t->set_numa_nodes(1);
    t->set_llcs(1);
    t->set_cores_per_llc(cpus);
    t->set_threads_per_core(1);
    return j;
  }

  // Collects a run's events until RunFinished.
  std::vector<RunEvent> Drain(const std::shared_ptr<RunEventLog>& log) {
    absl::Mutex mu;
    std::vector<RunEvent> events;
    absl::Notification done;
    int id = log->Subscribe([&](const RunEvent& ev) {
      absl::MutexLock lock(&mu);
      events.push_back(ev);
      if (ev.has_run_finished() && !done.HasBeenNotified()) done.Notify();
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    log->Unsubscribe(id);
    absl::MutexLock lock(&mu);
    return events;
  }

  std::string root_;
  std::unique_ptr<KernelResolver> kernels_;
  std::unique_ptr<ResultStore> results_;
  std::unique_ptr<ArtifactStore> artifacts_;
  FakeExecutor executor_;
  std::unique_ptr<Dispatcher> dispatcher_;
  Caller alice_{1000, 1000, 42};
};

TEST_F(DispatcherTest, RunsJobsStoresVerdictsBeforeReporting) {
  Start();
  ktstr::v1::RunSpec spec;
  *spec.add_jobs() = Job("two_groups");
  *spec.add_jobs() = Job("fail_starve");
  *spec.add_jobs() = Job("skip_numa");
  auto sub = dispatcher_->Submit(spec, alice_);
  ASSERT_TRUE(sub.ok()) << sub.status();
  std::vector<RunEvent> events = Drain(sub->events);
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events.front().has_accepted());
  EXPECT_TRUE(events.back().has_run_finished());
  int finished = 0;
  for (const RunEvent& ev : events) {
    if (!ev.has_finished()) continue;
    ++finished;
    // Every JobFinished is already in SQLite.
    auto stored = results_->GetRun(sub->run_id, true);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->jobs(ev.finished().job_index()).state(), ktstr::v1::JOB_STATE_FINISHED);
  }
  EXPECT_EQ(finished, 3);
  const auto& run = events.back().run_finished().run();
  EXPECT_EQ(run.jobs_passed(), 1u);
  EXPECT_EQ(run.jobs_failed(), 1u);
  EXPECT_EQ(run.jobs_skipped(), 1u);
  auto stored = dispatcher_->GetRun(sub->run_id, alice_);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->jobs(1).verdict().reason(), "stuck 3500ms on cpu1 at +1200ms");
  EXPECT_EQ(stored->jobs(0).topology(), "1n1l2c1t");
  EXPECT_EQ(stored->jobs(0).kernel_key(), "test-kernel");
  EXPECT_EQ(stored->state(), ktstr::v1::RUN_STATE_FINISHED);
}

TEST_F(DispatcherTest, TimeoutKillsTheJob) {
  Start();
  ktstr::v1::RunSpec spec;
  *spec.add_jobs() = Job("hang_forever");
  spec.mutable_jobs(0)->set_timeout_s(1);
  auto sub = dispatcher_->Submit(spec, alice_);
  ASSERT_TRUE(sub.ok());
  Drain(sub->events);
  auto run = dispatcher_->GetRun(sub->run_id, alice_);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->jobs(0).verdict().kind(), ktstr::v1::VERDICT_KIND_TIMEOUT);
  EXPECT_EQ(run->jobs(0).verdict().reason(), "timed out after 1s");
}

TEST_F(DispatcherTest, CancelStopsQueuedAndRunningJobs) {
  Start({2, 65536});  // one 2-vCPU job at a time: the second stays queued
  ktstr::v1::RunSpec spec;
  *spec.add_jobs() = Job("hang_a");
  *spec.add_jobs() = Job("hang_b");
  auto sub = dispatcher_->Submit(spec, alice_);
  ASSERT_TRUE(sub.ok());
  while (dispatcher_->Counts().jobs_running == 0) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(dispatcher_->Cancel(sub->run_id, Caller{2000, 2000, 1}).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto n = dispatcher_->Cancel(sub->run_id, alice_);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  Drain(sub->events);
  auto run = dispatcher_->GetRun(sub->run_id, alice_);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->state(), ktstr::v1::RUN_STATE_CANCELLED);
  for (const auto& j : run->jobs()) {
    EXPECT_EQ(j.verdict().kind(), ktstr::v1::VERDICT_KIND_CANCELLED);
  }
  EXPECT_EQ(executor_.executed(), 1);
}

TEST_F(DispatcherTest, BudgetLimitsConcurrency) {
  Start({4, 65536});
  ktstr::v1::RunSpec spec;
  for (int i = 0; i < 6; ++i) *spec.add_jobs() = Job("pass_" + std::to_string(i), 2);
  auto sub = dispatcher_->Submit(spec, alice_);
  ASSERT_TRUE(sub.ok());
  Drain(sub->events);
  EXPECT_EQ(executor_.executed(), 6);
  EXPECT_LE(executor_.max_concurrent(), 2);
}

TEST_F(DispatcherTest, OwnersSeeOnlyTheirRuns) {
  Start();
  ktstr::v1::RunSpec spec;
  *spec.add_jobs() = Job("pass");
  auto sub = dispatcher_->Submit(spec, alice_);
  ASSERT_TRUE(sub.ok());
  Drain(sub->events);
  Caller bob{2000, 2000, 7};
  EXPECT_EQ(dispatcher_->GetRun(sub->run_id, bob).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(dispatcher_->Watch(sub->run_id, bob).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(dispatcher_->ListRuns(bob, 0, false, "")->empty());
  EXPECT_EQ(dispatcher_->ListRuns(bob, 0, true, "").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(dispatcher_->GetRun(sub->run_id, Caller{0, 0, 1}).ok());
  EXPECT_EQ(dispatcher_->ListRuns(alice_, 0, false, "")->size(), 1u);
  // A finished run replays from SQLite.
  auto replay = dispatcher_->Watch(sub->run_id, alice_);
  ASSERT_TRUE(replay.ok());
  std::vector<RunEvent> events = Drain(*replay);
  EXPECT_EQ(events.size(), 3u);  // accepted, finished, run_finished
}

TEST_F(DispatcherTest, RejectsInvalidSubmissions) {
  Start();
  ktstr::v1::RunSpec empty;
  EXPECT_EQ(dispatcher_->Submit(empty, alice_).status().code(),
            absl::StatusCode::kInvalidArgument);
  ktstr::v1::RunSpec bad_topo;
  *bad_topo.add_jobs() = Job("x");
  bad_topo.mutable_jobs(0)->mutable_shape()->mutable_topology()->set_numa_nodes(2);
  auto s = dispatcher_->Submit(bad_topo, alice_).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("multiple of numa_nodes"), absl::string_view::npos) << s;
  ktstr::v1::RunSpec bad_kernel;
  *bad_kernel.add_jobs() = Job("x");
  bad_kernel.mutable_jobs(0)->mutable_kernel()->set_cache_key("6.99-nope");
  EXPECT_EQ(dispatcher_->Submit(bad_kernel, alice_).status().code(),
            absl::StatusCode::kNotFound);
  ktstr::v1::RunSpec missing;
  *missing.add_jobs() = Job("x");
  missing.mutable_jobs(0)->mutable_test_binary()->set_sha256(Sha256Hex("never uploaded"));
  EXPECT_EQ(dispatcher_->Submit(missing, alice_).status().code(), absl::StatusCode::kNotFound);
  ktstr::v1::RunSpec missing_sched;
  *missing_sched.add_jobs() = Job("x");
  missing_sched.mutable_jobs(0)->mutable_scheduler()->mutable_binary()->set_sha256(
      Sha256Hex("no such scheduler"));
  auto ms = dispatcher_->Submit(missing_sched, alice_).status();
  EXPECT_EQ(ms.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(ms.message().find("scheduler binary"), absl::string_view::npos) << ms;
  EXPECT_EQ(dispatcher_->ListRuns(alice_, 0, false, "")->size(), 0u);
}

TEST_F(DispatcherTest, ShutdownInterruptsRunningJobs) {
  Start();
  ktstr::v1::RunSpec spec;
  *spec.add_jobs() = Job("hang");
  auto sub = dispatcher_->Submit(spec, alice_);
  ASSERT_TRUE(sub.ok());
  while (dispatcher_->Counts().jobs_running == 0) absl::SleepFor(absl::Milliseconds(5));
  dispatcher_->Shutdown(false);
  EXPECT_EQ(dispatcher_->Submit(spec, alice_).status().code(), absl::StatusCode::kUnavailable);
  auto run = results_->GetRun(sub->run_id, true);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->jobs(0).verdict().kind(), ktstr::v1::VERDICT_KIND_INTERRUPTED);
}

// A shell's budget hold shares admission with jobs: while it holds the whole budget a job
// waits; a hold aborted while queued leaves admission; Shutdown aborts held ones.
TEST_F(DispatcherTest, BudgetHoldsShareAdmissionWithJobs) {
  Start({4, 65536});
  AbortSignal shell_abort;
  auto hold = dispatcher_->HoldBudget("shell-a", {4, 256}, &shell_abort);
  ASSERT_TRUE(hold.ok()) << hold.status();
  EXPECT_EQ(dispatcher_->Counts().in_use.vcpus, 4u);

  ktstr::v1::RunSpec spec;
  *spec.add_jobs() = Job("waits_for_the_shell", 2);
  auto sub = dispatcher_->Submit(spec, alice_);
  ASSERT_TRUE(sub.ok());
  absl::SleepFor(absl::Milliseconds(600));  // a few dispatcher rounds
  EXPECT_EQ(executor_.executed(), 0);
  EXPECT_EQ(dispatcher_->Counts().jobs_queued, 1u);

  // A second hold queues behind the budget; aborting it returns CANCELLED.
  AbortSignal second_abort;
  absl::Notification waiting;
  std::thread second([&] {
    waiting.Notify();
    auto h = dispatcher_->HoldBudget("shell-b", {4, 256}, &second_abort);
    EXPECT_EQ(h.status().code(), absl::StatusCode::kCancelled);
  });
  waiting.WaitForNotification();
  second_abort.Abort(AbortReason::kCancelled);
  second.join();

  hold->reset();  // the shell ended: the job runs
  std::vector<RunEvent> events = Drain(sub->events);
  EXPECT_EQ(executor_.executed(), 1);
  EXPECT_EQ(dispatcher_->Counts().in_use.vcpus, 0u);
  EXPECT_EQ(dispatcher_->Counts().jobs_queued, 0u);

  // Shutdown aborts a held budget's signal and waits for the hold to go.
  AbortSignal held_abort;
  auto held = dispatcher_->HoldBudget("shell-c", {2, 256}, &held_abort);
  ASSERT_TRUE(held.ok());
  std::thread owner([&] {
    held_abort.WaitFor(absl::Seconds(30));
    held->reset();
  });
  dispatcher_->Shutdown(false);
  owner.join();
  EXPECT_EQ(held_abort.reason(), AbortReason::kShutdown);
  EXPECT_EQ(dispatcher_->HoldBudget("late", {1, 1}, &held_abort).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ktstr::daemon
