#include "guest_agent/testlib/checks.h"

#include "gtest/gtest.h"
#include "guest_agent/testlib/report.h"

namespace ktstr {
namespace {

// A worker that ran `wall_ms` with `cpu_ms` on CPU.
WorkerReport Worker(pid_t pid, uint64_t wall_ms, uint64_t cpu_ms, uint64_t units = 1000) {
  WorkerReport r;
  r.pid = pid;
  r.wall_time_ns = wall_ms * 1000000;
  r.cpu_time_ns = cpu_ms * 1000000;
  r.off_cpu_ns = r.wall_time_ns - r.cpu_time_ns;
  r.work_units = units;
  r.iterations = units / 10;
  r.cpus_used = {0};
  r.max_gap_ms = 10;
  r.max_gap_cpu = 0;
  return r;
}

const Assert kDefaults = Assert::DefaultChecks();

TEST(ChecksTest, DefaultsAreKtstrs) {
  EXPECT_EQ(kDefaults.not_starved, true);
  EXPECT_EQ(kDefaults.max_spread_pct, 15.0);
  EXPECT_EQ(kDefaults.max_gap_ms, 2000u);
  EXPECT_FALSE(kDefaults.isolation.has_value());
  EXPECT_FALSE(kDefaults.max_throughput_cv.has_value());
}

TEST(ChecksTest, HealthyGroupPassesWithStats) {
  AssertResult r =
      Evaluate({{"cg_0", {Worker(1, 1000, 500), Worker(2, 1000, 450)}, {}}}, kDefaults);
  EXPECT_TRUE(r.passed) << (r.details.empty() ? "" : r.details[0].message);
  ASSERT_EQ(r.stats.cgroups.size(), 1u);
  const CgroupStats& c = r.stats.cgroups[0];
  EXPECT_EQ(c.workers, 2u);
  EXPECT_DOUBLE_EQ(c.min_off_cpu_pct, 50);
  EXPECT_DOUBLE_EQ(c.max_off_cpu_pct, 55);
  EXPECT_DOUBLE_EQ(c.spread_pct, 5);
  EXPECT_EQ(c.total_work_units, 2000u);
  EXPECT_EQ(r.stats.total_workers, 2u);
  EXPECT_EQ(r.workers.size(), 2u);
}

TEST(ChecksTest, StarvedWorkerFails) {
  AssertResult r =
      Evaluate({{"cg_0", {Worker(1, 1000, 500), Worker(7, 1000, 0, 0)}, {}}}, kDefaults);
  ASSERT_FALSE(r.passed);
  bool starved = false;
  for (const AssertDetail& d : r.details) {
    if (d.kind == DetailKind::kStarved) {
      starved = true;
      EXPECT_EQ(d.message, "cg_0 worker 7 starved: 0 work units in 1000ms");
      EXPECT_EQ(d.cgroup, "cg_0");
    }
  }
  EXPECT_TRUE(starved);
  Assert off = kDefaults.MergedWith(Assert{.not_starved = false, .max_spread_pct = 100});
  EXPECT_TRUE(Evaluate({{"cg_0", {Worker(1, 1000, 500), Worker(7, 1000, 0, 0)}, {}}}, off).passed);
}

TEST(ChecksTest, SpreadOverFifteenPercentIsUnfair) {
  // off-CPU 50% vs 66%: spread 16% > 15%.
  AssertResult r =
      Evaluate({{"cg_0", {Worker(1, 1000, 500), Worker(2, 1000, 340)}, {}}}, kDefaults);
  ASSERT_FALSE(r.passed);
  ASSERT_EQ(r.details.size(), 1u);
  EXPECT_EQ(r.details[0].kind, DetailKind::kUnfair);
  EXPECT_EQ(r.details[0].message, "cg_0 off-cpu spread 16.0% > 15.0% (50.0%..66.0%)");
  // Under the limit passes; one worker never has a spread.
  EXPECT_TRUE(
      Evaluate({{"a", {Worker(1, 1000, 500), Worker(2, 1000, 360)}, {}}}, kDefaults).passed);
  EXPECT_TRUE(Evaluate({{"a", {Worker(1, 1000, 10)}, {}}}, kDefaults).passed);
}

TEST(ChecksTest, GapOverLimitIsStuckWithCpuAndTime) {
  WorkerReport w = Worker(42, 5000, 2000);
  w.max_gap_ms = 3500;
  w.max_gap_cpu = 1;
  w.max_gap_at_ms = 1200;
  AssertResult r = Evaluate({{"cg_1", {w}, {}}}, kDefaults);
  ASSERT_FALSE(r.passed);
  ASSERT_EQ(r.details.size(), 1u);
  EXPECT_EQ(r.details[0].kind, DetailKind::kStuck);
  EXPECT_EQ(r.details[0].message, "stuck 3500ms on cpu1 at +1200ms (cg_1 worker 42, limit 2000ms)");
  EXPECT_EQ(r.stats.worst_gap_ms, 3500u);
  EXPECT_EQ(r.stats.worst_gap_cpu, 1);
  w.max_gap_ms = 2000;  // equal to the limit: not over it
  EXPECT_TRUE(Evaluate({{"cg_1", {w}, {}}}, kDefaults).passed);
}

TEST(ChecksTest, IsolationOnlyWhenEnabledAndRestricted) {
  WorkerReport w = Worker(5, 1000, 500);
  w.cpus_used = {0, 3};
  EXPECT_TRUE(Evaluate({{"cg", {w}, {0, 1}}}, kDefaults).passed);  // isolation off by default
  Assert iso = kDefaults.MergedWith(Assert{.isolation = true});
  AssertResult r = Evaluate({{"cg", {w}, {0, 1}}}, iso);
  ASSERT_FALSE(r.passed);
  EXPECT_EQ(r.details[0].kind, DetailKind::kIsolation);
  EXPECT_EQ(r.details[0].message, "cg worker 5 ran on cpus 0,3 outside its cpuset 0-1");
  EXPECT_TRUE(Evaluate({{"cg", {w}, {}}}, iso).passed);  // unrestricted cgroup
}

TEST(ChecksTest, ThroughputCvWorkRateLatencyAndMigrationRatio) {
  WorkerReport a = Worker(1, 1000, 500, 1000), b = Worker(2, 1000, 500, 3000);
  // rates 2000 and 6000 per cpu-s: CV = 2000/4000 = 0.5.
  Assert cv = kDefaults.MergedWith(Assert{.max_throughput_cv = 0.4});
  AssertResult r = Evaluate({{"cg", {a, b}, {}}}, cv);
  EXPECT_NEAR(r.stats.cgroups[0].throughput_cv, 0.5, 1e-9);
  ASSERT_FALSE(r.passed);
  EXPECT_EQ(r.details[0].kind, DetailKind::kUnfair);
  Assert rate = kDefaults.MergedWith(Assert{.min_work_rate = 3000});
  r = Evaluate({{"cg", {a, b}, {}}}, rate);
  ASSERT_EQ(r.details.size(), 1u);
  EXPECT_EQ(r.details[0].kind, DetailKind::kBenchmark);

  for (uint64_t i = 1; i <= 100; ++i) a.resume_latencies_ns.push_back(i * 1000);  // 1..100 us
  Assert lat = kDefaults.MergedWith(Assert{.max_p99_wake_latency_ns = 50000});
  r = Evaluate({{"cg", {a}, {}}}, lat);
  EXPECT_DOUBLE_EQ(r.stats.cgroups[0].p99_wake_latency_us, 99);
  EXPECT_DOUBLE_EQ(r.stats.cgroups[0].median_wake_latency_us, 50);
  ASSERT_FALSE(r.passed);
  EXPECT_EQ(r.details[0].message, "cg p99 wake latency 99us > 50us");

  a.migrations = 50;  // 50 migrations / 100 iterations
  Assert mig = kDefaults.MergedWith(Assert{.max_migration_ratio = 0.25});
  r = Evaluate({{"cg", {a}, {}}}, mig);
  EXPECT_DOUBLE_EQ(r.stats.cgroups[0].migration_ratio, 0.5);
  ASSERT_FALSE(r.passed);
  EXPECT_EQ(r.details[0].kind, DetailKind::kMigration);
}

// NUMA checks: cg_0 bound to node 1 (policy_nodes set), cg_1 allocating locally on the CPU
// of node 0 it ran on; a 2-node guest with CPUs 0 (node 0) and 1 (node 1) and a memory-only
// node 2.
TEST(ChecksTest, PageLocalityCrossNodeMigrationAndSlowTier) {
  NumaFacts numa;
  numa.node_of_cpu = {{0, 0}, {1, 1}};
  numa.memory_only_nodes = {2};
  numa.pages_migrated = 30;
  WorkerReport bound = Worker(1, 1000, 500);
  bound.policy_nodes = {1};
  bound.numa_pages = {{0, 25}, {1, 75}};  // 75% where the policy wants it
  WorkerReport local = Worker(2, 1000, 500);
  local.cpus_used = {0};
  local.numa_pages = {{0, 90}, {2, 10}};  // 10 pages on the slow tier
  Assert a = kDefaults;
  a.min_page_locality = 0.8;
  a.max_cross_node_migration_ratio = 0.1;
  a.max_slow_tier_ratio = 0.01;
  AssertResult r = Evaluate({{"cg_0", {bound}, {}}, {"cg_1", {local}, {}}}, a, numa);
  ASSERT_EQ(r.stats.cgroups.size(), 2u);
  EXPECT_EQ(r.stats.cgroups[0].numa_pages, 100u);
  EXPECT_DOUBLE_EQ(r.stats.cgroups[0].page_locality, 0.75);
  EXPECT_DOUBLE_EQ(r.stats.cgroups[1].page_locality, 0.9);
  EXPECT_NE(r.StatsText().find("run delay 0us, page locality 75.0% of 100 pages\n"),
            std::string::npos)
      << r.StatsText();
  EXPECT_FALSE(r.passed);
  std::vector<std::string> got;
  for (const AssertDetail& d : r.details) got.push_back(d.message);
  ASSERT_EQ(r.details.size(), 3u) << testing::PrintToString(got);
  EXPECT_EQ(r.details[0].kind, DetailKind::kPageLocality);
  EXPECT_EQ(r.details[0].cgroup, "cg_0");
  EXPECT_EQ(r.details[0].message,
            "cg_0 page locality 0.75 < 0.80 (75 of 100 anonymous pages on the memory policy's "
            "nodes)");
  EXPECT_EQ(r.details[1].kind, DetailKind::kCrossNodeMigration);
  EXPECT_EQ(r.details[1].message,
            "cross-node migration ratio 0.150 > 0.100 (30 pages migrated, 200 anonymous pages)");
  EXPECT_EQ(r.details[2].kind, DetailKind::kSlowTier);
  EXPECT_EQ(r.details[2].message,
            "slow-tier ratio 0.050 > 0.010 (10 of 200 anonymous pages on memory-only nodes)");

  // Off by default, and a worker whose CPUs are unknown counts all its pages as local.
  EXPECT_TRUE(Evaluate({{"cg_0", {bound}, {}}, {"cg_1", {local}, {}}}, kDefaults, numa).passed);
  WorkerReport unknown = Worker(3, 1000, 500);
  unknown.cpus_used = {7};
  unknown.numa_pages = {{0, 5}, {1, 5}};
  AssertResult u = Evaluate({{"cg_2", {unknown}, {}}}, a, numa);
  EXPECT_DOUBLE_EQ(u.stats.cgroups[0].page_locality, 1.0);
}

TEST(ChecksTest, NoPagesMeansLocalityOneAndNoRatios) {
  Assert a = kDefaults;
  a.min_page_locality = 1.0;
  a.max_cross_node_migration_ratio = 0.0;
  NumaFacts numa;
  numa.pages_migrated = 1000;
  AssertResult r = Evaluate({{"cg_0", {Worker(1, 1000, 500)}, {}}}, a, numa);
  EXPECT_TRUE(r.passed) << (r.details.empty() ? "" : r.details[0].message);
  EXPECT_DOUBLE_EQ(r.stats.cgroups[0].page_locality, 1.0);
}

TEST(ChecksTest, MergeOrderMostSpecificWins) {
  Assert sched{.max_gap_ms = 3000, .max_spread_pct = 25};
  Assert test{.not_starved = false, .max_gap_ms = 500};
  Assert m = Assert::DefaultChecks().MergedWith(sched).MergedWith(test);
  EXPECT_EQ(m.max_gap_ms, 500u);          // test beats scheduler
  EXPECT_EQ(m.max_spread_pct, 25.0);      // scheduler beats default
  EXPECT_EQ(m.not_starved, false);        // false disables
  EXPECT_EQ(m.max_imbalance_ratio, 4.0);  // untouched default
  Assert none;
  EXPECT_EQ(m.MergedWith(none).EffectiveLines(), m.EffectiveLines());  // unset = identity
  EXPECT_EQ(m.EffectiveLines()[0], "not_starved=false");
}

TEST(ChecksTest, ResultMergeAndStatsText) {
  AssertResult a =
      Evaluate({{"cg_0", {Worker(1, 1000, 500), Worker(2, 1000, 480)}, {}}}, kDefaults);
  WorkerReport stuck = Worker(3, 5000, 2000);
  stuck.max_gap_ms = 3500;
  stuck.max_gap_cpu = 1;
  stuck.cpus_used = {1};
  stuck.migrations = 8;
  AssertResult b = Evaluate({{"cg_1", {stuck, Worker(4, 5000, 2000)}, {}}}, kDefaults);
  a.Merge(b);
  EXPECT_FALSE(a.passed);
  EXPECT_EQ(a.stats.total_workers, 4u);
  EXPECT_EQ(a.stats.cpus_used, (CpuSet{0, 1}));
  EXPECT_EQ(a.stats.worst_gap_ms, 3500u);
  EXPECT_EQ(a.stats.total_migrations, 8u);
  const std::string text = a.StatsText();
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "4 workers, 2 cpus, 8 migrations, worst_spread=2.0%, worst_gap=3500ms");
  EXPECT_NE(text.find("\n  cg_0: 2 workers"), std::string::npos);
  EXPECT_NE(text.find("\n  cg_1: 2 workers"), std::string::npos);

  v1::TestReport p = ToTestReport("t", a, v1::TEST_OUTCOME_FAIL, 1.5, "eevdf", kDefaults);
  EXPECT_EQ(p.details(0).kind(), v1::DETAIL_KIND_STUCK);
  EXPECT_EQ(p.stats().cgroups_size(), 2);
  EXPECT_EQ(p.stats().worst_gap_ms(), 3500u);
  EXPECT_EQ(p.workers_size(), 4);
  EXPECT_EQ(p.stats_text(), text);
  EXPECT_EQ(p.effective_checks(0), "not_starved=true");
}

TEST(ChecksTest, SkipAndWorkerErrors) {
  AssertResult s = AssertResult::Skip("needs 2 LLCs");
  EXPECT_TRUE(s.skipped);
  EXPECT_TRUE(s.passed);
  WorkerReport w = Worker(9, 1000, 500);
  w.error = "sched_setscheduler(fifo(1)): Operation not permitted";
  AssertResult r = Evaluate({{"rt", {w}, {}}}, kDefaults);
  ASSERT_FALSE(r.passed);
  EXPECT_EQ(r.details[0].kind, DetailKind::kOther);
  EXPECT_NE(r.details[0].message.find("Operation not permitted"), std::string::npos);
}

}  // namespace
}  // namespace ktstr
