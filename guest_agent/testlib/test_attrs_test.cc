#include "guest_agent/testlib/test_attrs.h"

#include "gtest/gtest.h"
#include "guest_agent/testlib/list_json.h"
#include "guest_agent/testlib/registry.h"
#include "guest_agent/testlib/work_types.h"

namespace ktstr {
namespace {

const SchedulerDef kSched{
    .name = "scx_demo",
    .binary = SchedulerSpec::Discover("scx_demo"),
    .sched_args = {"--verbose"},
    .flags = {{"llc", {"--llc"}, {}},
              {"borrow", {"--borrow"}, {}},
              {"steal", {"--steal"}, {"llc"}},
              {"rebal", {}, {}},
              {"reject-pin", {}, {}},
              {"no-ctrl", {}, {}}},
    .sysctls = {{"kernel.sched_rt_runtime_us", "950000"}},
    .kargs = {"nosmt"},
    .checks = Assert{.max_gap_ms = 3000, .max_spread_pct = 30},
    .cgroup_parent = "/cells",
    .topology = {.numa_nodes = 1, .llcs = 2, .cores = 4, .threads = 1},
    .constraints = {.min_llcs = 2},
    .config_file = "demo.json",
};

std::string Error(const TestAttrs& a) {
  absl::StatusOr<ResolvedAttrs> r = ResolveAttrs("t", a);
  return r.ok() ? "" : std::string(r.status().message());
}

TEST(TestAttrsTest, KtstrDefaults) {
  absl::StatusOr<ResolvedAttrs> r = ResolveAttrs("t", {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->numa_nodes, 1u);
  EXPECT_EQ(r->llcs, 1u);
  EXPECT_EQ(r->cores, 2u);
  EXPECT_EQ(r->threads, 1u);
  EXPECT_EQ(r->memory_mb, 2048u);
  EXPECT_EQ(r->duration_s, 2u);
  EXPECT_EQ(r->workers_per_cgroup, 2u);
  EXPECT_EQ(r->max_llcs, 12u);
  EXPECT_EQ(r->max_cpus, 192u);
  EXPECT_EQ(r->scheduler->name, "");
  EXPECT_EQ(r->checks.max_gap_ms, 2000u);
  EXPECT_EQ(r->flag_profiles.size(), 1u);  // EEVDF: the empty profile
}

TEST(TestAttrsTest, InvalidAttributesNameTheTest) {
  EXPECT_EQ(Error({.llcs = 0}), "test 't': llcs must be > 0 (got 0)");
  EXPECT_EQ(Error({.numa_nodes = 2, .llcs = 3}),
            "test 't': llcs (3) must be a multiple of numa_nodes (2)");
  EXPECT_EQ(Error({.duration_s = 0}), "test 't': duration_s must be > 0 (got 0)");
  EXPECT_EQ(Error({.min_llcs = 4, .max_llcs = 2}), "test 't': min_llcs (4) > max_llcs (2)");
  EXPECT_EQ(Error({.max_spread_pct = -1}),
            "test 't': max_spread_pct must be a finite value >= 0 (got -1)");
  EXPECT_EQ(Error({.max_gap_ms = 0}), "test 't': max_gap_ms must be > 0 (got 0)");
  EXPECT_EQ(Error({.required_flags = {"llc"}}),
            "test 't': required_flags / extra_sched_args need a .scheduler");
  EXPECT_EQ(Error({.threads = 1, .requires_smt = true}).substr(0, 35),
            "test 't': topology 1n1l2c1t (2 cpus");
  EXPECT_NE(Error({.llcs = 16}).find("violates its constraints"), std::string::npos);
  EXPECT_EQ(Error({.scheduler = &kSched, .required_flags = {"nope"}}),
            "test 't': unknown flag 'nope' for scheduler 'scx_demo'");
  EXPECT_EQ(Error({.scheduler = &kSched, .required_flags = {"llc"}, .excluded_flags = {"llc"}}),
            "test 't': flag 'llc' is both required and excluded");
}

TEST(TestAttrsTest, MergeChainDefaultsSchedulerTest) {
  absl::StatusOr<ResolvedAttrs> r =
      ResolveAttrs("t", {.cores = 2, .scheduler = &kSched, .max_gap_ms = 500});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->llcs, 2u);                     // scheduler's topology default
  EXPECT_EQ(r->cores, 2u);                    // test wins
  EXPECT_EQ(r->min_llcs, 2u);                 // scheduler constraint
  EXPECT_EQ(r->checks.max_gap_ms, 500u);      // test beats scheduler (3000) and default
  EXPECT_EQ(r->checks.max_spread_pct, 30.0);  // scheduler beats default (15)
  EXPECT_EQ(r->checks.not_starved, true);     // default
  // A 1-LLC test violates the scheduler's min_llcs = 2.
  EXPECT_NE(Error({.llcs = 1, .scheduler = &kSched}).find("violates"), std::string::npos);
}

TEST(FlagProfilesTest, PowerSetFilteredByRequires) {
  // ktstr's documented example: 6 flags, steal requires llc -> 48 profiles.
  absl::StatusOr<std::vector<std::vector<std::string>>> p = FlagProfiles(kSched, {}, {});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->size(), 48u);
  EXPECT_TRUE((*p)[0].empty());
  EXPECT_EQ(ProfileName((*p)[0]), "default");
  for (const auto& prof : *p) {
    const bool steal = std::find(prof.begin(), prof.end(), "steal") != prof.end();
    const bool llc = std::find(prof.begin(), prof.end(), "llc") != prof.end();
    EXPECT_TRUE(!steal || llc) << ProfileName(prof);
  }
  EXPECT_EQ(FlagProfiles(kSched, {"steal"}, {"borrow"})->size(), 8u);  // llc+steal forced
  EXPECT_EQ(ProfileName({"llc", "steal"}), "llc+steal");
}

TEST(SchedulerArgsTest, KtstrOrder) {
  EXPECT_EQ(
      SchedulerArgs(kSched, {"--extra"}, {"llc", "steal"}),
      (std::vector<std::string>{"--config", "/include-files/demo.json", "--cell-parent-cgroup",
                                "/cells", "--verbose", "--extra", "--llc", "--steal"}));
}

absl::StatusOr<AssertResult> Body(const Ctx&) { return AssertResult::Pass(); }

TEST(RegistryTest, RejectsDuplicatesAndBadAttrsAtRegistration) {
  Registry reg;
  EXPECT_TRUE(reg.Register("a", {}, &Body, "f.cc", 1));
  EXPECT_FALSE(reg.Register("a", {}, &Body, "f.cc", 2));
  EXPECT_FALSE(reg.Register("b", {.cores = 0}, &Body, "f.cc", 3));
  ASSERT_EQ(reg.errors().size(), 2u);
  EXPECT_EQ(reg.errors()[0], "f.cc:2: test 'a' is registered twice");
  EXPECT_EQ(reg.errors()[1], "f.cc:3: test 'b': cores must be > 0 (got 0)");
  EXPECT_NE(reg.Find("a"), nullptr);
  EXPECT_EQ(reg.Find("b"), nullptr);
}

TEST(ListJsonTest, SchedulerTestCarriesItsDefinition) {
  std::vector<TestEntry> tests = {
      {"x\"y", {.scheduler = &kSched, .expect_err = true}, &Body, "f.cc", 9}};
  absl::StatusOr<std::string> json = TestsToJson(tests);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_NE(json->find("\"name\":\"x\\\"y\""), std::string::npos);
  EXPECT_NE(json->find("\"scheduler\":\"scx_demo\""), std::string::npos);
  EXPECT_NE(json->find("\"expect_err\":true"), std::string::npos);
  EXPECT_NE(json->find("\"max_gap_ms\":3000"), std::string::npos);
  EXPECT_NE(json->find("\"name\":\"llc+steal\""), std::string::npos);
  EXPECT_NE(json->find("\"kargs\":[\"nosmt\"]"), std::string::npos);
}

TEST(WorkTypeTest, NamesGroupsAndValidation) {
  EXPECT_EQ(WorkType::AllNames().size(), 20u);
  for (const std::string& n : WorkType::AllNames()) {
    absl::StatusOr<WorkType> w = WorkType::FromName(n);
    EXPECT_EQ(w.ok(), n != "Sequence" && n != "Custom") << n;
    if (w.ok()) {
      EXPECT_EQ(w->name(), n);
    }
  }
  EXPECT_FALSE(WorkType::FromName("cpu_spin").ok());
  EXPECT_EQ(WorkType::pipe_io().group_size(), 2);
  EXPECT_EQ(WorkType::futex_fan_out(4).group_size(), 5);
  EXPECT_EQ(WorkType::mutex_contention(3).group_size(), 3);
  EXPECT_EQ(WorkType::pipe_io().Validate(3).message(),
            "PipeIo needs a worker count divisible by 2 (got 3)");
  EXPECT_TRUE(WorkType::pipe_io().Validate(4).ok());
  EXPECT_FALSE(WorkType::sequence(Phase::Spin(std::chrono::microseconds(0)), {}).Validate(1).ok());
  EXPECT_FALSE(WorkType::custom_fn("x", nullptr).Validate(1).ok());
  EXPECT_FALSE(SchedPolicy::Fifo(0).Validate().ok());
  EXPECT_TRUE(SchedPolicy::Fifo(99).Validate().ok());
  EXPECT_FALSE(MemPolicy::Bind({}).Validate().ok());
  EXPECT_TRUE(MemPolicy::Local().Validate().ok());
}

}  // namespace
}  // namespace ktstr
