// The scenario engine in-process against real cgroups (root): ops that the canned scenarios
// do not cover (payloads, swaps, stops, removals, host workers, loops), error paths, and that
// every path leaves the cgroup subtree empty.
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "guest_agent/testlib/cgroup_manager.h"
#include "guest_agent/testlib/scenario.h"

namespace ktstr {
namespace {

using std::chrono::milliseconds;

class EngineTest : public testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for cgroups";
    absl::StatusOr<std::unique_ptr<CgroupManager>> m =
        CgroupManager::Open(absl::StrCat("ktstr-", getpid()));
    ASSERT_TRUE(m.ok()) << m.status();
    mgr_ = *std::move(m);
    absl::StatusOr<TestTopology> topo = TestTopology::FromSysfs();
    ASSERT_TRUE(topo.ok());
    ctx_.topo = *topo;
    ctx_.cgroups = mgr_.get();
    ctx_.duration = milliseconds(600);
    ctx_.workers_per_cgroup = 1;
    ctx_.checks = Assert::DefaultChecks();
  }
  // The subtree root holds no cgroup once a scenario has returned, whatever the outcome.
  int ChildCgroups() {
    int n = 0;
    DIR* d = opendir(mgr_->root_path().c_str());
    while (struct dirent* e = readdir(d)) n += e->d_type == DT_DIR && e->d_name[0] != '.';
    closedir(d);
    return n;
  }
  std::unique_ptr<CgroupManager> mgr_;
  Ctx ctx_;
};

TEST_F(EngineTest, PayloadOpsRunWaitAndKill) {
  Step s = Step::New(
      {op::AddCgroup{"cg"}, op::RunPayload{"ok", "true", {}, "cg"}, op::WaitPayload{"ok", "cg"},
       op::RunPayload{"bad", "sh", {"-c", "exit 3"}, "cg"}, op::WaitPayload{"bad", "cg"},
       op::RunPayload{"sleeper", "sleep", {"100"}, "cg"}, op::KillPayload{"sleeper", "cg"},
       op::RunPayload{"left", "sleep", {"100"}, "cg"}},  // killed at step end
      HoldSpec::Fixed(milliseconds(100)));
  absl::StatusOr<AssertResult> r = execute_steps(ctx_, {s});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->passed);
  ASSERT_EQ(r->details.size(), 1u);
  EXPECT_EQ(r->details[0].kind, DetailKind::kOther);
  EXPECT_EQ(r->details[0].message, "payload bad exited with status 3");
  EXPECT_EQ(r->details[0].cgroup, "cg");
  EXPECT_EQ(ChildCgroups(), 0);
}

TEST_F(EngineTest, SwapStopRemoveHostAndLoop) {
  if (ctx_.topo.usable_cpus().size() < 2) GTEST_SKIP() << "needs 2 CPUs";
  Backdrop b;
  b.defs.push_back(CgroupDef::named("cg_a").with_cpuset(CpusetSpec::Disjoint(0, 2)));
  b.defs.push_back(CgroupDef::named("cg_b").with_cpuset(CpusetSpec::Disjoint(1, 2)));
  Step first =
      Step::New({op::SpawnHost{Work{}}, op::AddCgroup{"tmp"}, op::Spawn{"tmp", Work{.workers = 2}},
                 op::AddCgroup{"gone"}, op::Spawn{"gone", Work{}}, op::StopCgroup{"gone"},
                 op::RemoveCgroup{"gone"}},
                HoldSpec::Fixed(milliseconds(200)));
  Step loop = Step::New({op::SwapCpusets{"cg_a", "cg_b"}}, HoldSpec::Loop(milliseconds(100)));
  Assert checks = Assert::DefaultChecks().MergedWith(
      Assert{.not_starved = false, .max_gap_ms = 100000, .max_spread_pct = 100});
  absl::StatusOr<AssertResult> r = execute_scenario(ctx_, b, {first, loop}, &checks);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->passed) << r->details[0].message;
  std::map<std::string, const CgroupStats*> by_name;
  for (const CgroupStats& c : r->stats.cgroups) by_name[c.name] = &c;
  ASSERT_EQ(by_name.size(), 5u);        // "", tmp, gone, cg_a, cg_b
  EXPECT_EQ(by_name[""]->workers, 1u);  // the host worker
  EXPECT_EQ(by_name["tmp"]->workers, 2u);
  EXPECT_EQ(by_name["gone"]->workers, 1u);
  // The swaps gave each backdrop cgroup both partitions over the run.
  const CpuSet usable = ctx_.topo.usable_cpus();
  EXPECT_EQ(by_name["cg_a"]->allowed_cpus, usable);
  EXPECT_EQ(by_name["cg_b"]->allowed_cpus, usable);
  // Step-scoped workers stop after the first step (200 ms); backdrop ones run all 600 ms.
  uint64_t longest_tmp = 0, shortest_backdrop = UINT64_MAX;
  for (const WorkerReport& w : r->workers) {
    if (w.cgroup == "tmp") longest_tmp = std::max(longest_tmp, w.wall_time_ns);
    if (absl::StartsWith(w.cgroup, "cg_")) {
      shortest_backdrop = std::min(shortest_backdrop, w.wall_time_ns);
    }
    EXPECT_EQ(w.exit, WorkerExit::kCompleted) << w.cgroup;
  }
  EXPECT_LT(longest_tmp, shortest_backdrop);
  EXPECT_EQ(ChildCgroups(), 0);
}

TEST_F(EngineTest, ErrorsAreHarnessErrorsAndCleanUp) {
  std::vector<Step> unknown = {
      Step::WithDefs({CgroupDef::named("cg")}, HoldSpec::Fixed(milliseconds(50))),
      Step::New({op::SetCpuset{"nope", CpusetSpec::Llc(0)}}, HoldSpec::Full())};
  absl::StatusOr<AssertResult> r = execute_steps(ctx_, unknown);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "no cgroup named 'nope' in this scenario");
  EXPECT_EQ(ChildCgroups(), 0);

  Backdrop b;
  b.defs.push_back(CgroupDef::named("keep"));
  r = execute_scenario(ctx_, b, {Step::New({op::RemoveCgroup{"keep"}}, HoldSpec::Full())});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "a step may not remove backdrop cgroup 'keep'");
  EXPECT_EQ(ChildCgroups(), 0);

  r = execute_defs(ctx_, {CgroupDef::named("a").with_cpuset(CpusetSpec::Disjoint(0, 64))});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not enough usable CPUs"), std::string::npos);
  EXPECT_EQ(ChildCgroups(), 0);

  r = execute_defs(ctx_, {CgroupDef::named("p").workers(3).work_type(WorkType::pipe_io())});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("divisible by 2"), std::string::npos);
  EXPECT_EQ(ChildCgroups(), 0);

  EXPECT_FALSE(execute_steps(ctx_, {Step::New({}, HoldSpec::Frac(0))}).ok());
}

}  // namespace
}  // namespace ktstr
