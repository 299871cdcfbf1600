// ktstr's budget selection over real gauntlet plans (test lists as --ktstr-list prints them).
#include "client/gauntlet_budget.h"

#include "absl/strings/str_cat.h"
#include "client/testing/listed_binary.h"
#include "gtest/gtest.h"

namespace ktstr::client {
namespace {

constexpr char kDefaults[] =
    R"("min_numa_nodes":1,"max_numa_nodes":1,"min_llcs":1,"max_llcs":12,"min_cpus":1,)"
    R"("max_cpus":192,"requires_smt":false,"duration_s":2)";

// A sched_ext test whose scheduler has flags llc and steal: profiles default, llc, llc+steal.
std::string SchedTest(const std::string& name) {
  return "{\"name\":\"" + name + "\",\"scheduler\":\"scx_x\"," + kDefaults +
         R"(,"scheduler_def":{"name":"scx_x","binary_kind":"discover","binary":"scx_x",)"
         R"("profiles":[{"name":"default","flags":[]},{"name":"llc","flags":["llc"]},)"
         R"({"name":"llc+steal","flags":["llc","steal"]}]}})";
}
std::string EevdfTest(const std::string& name) {
  return "{\"name\":\"" + name + "\"," + kDefaults + "}";
}

std::vector<GauntletBinary> Binaries(const std::vector<std::string>& tests) {
  return {testing::ListedBinary("/x/bin", tests)};
}

TEST(GauntletBudgetTest, CostIsKtstrsEstimate) {
  std::vector<GauntletBinary> bins = Binaries({EevdfTest("a")});
  GauntletSelection sel;
  sel.presets = {"tiny-1llc", "large-4llc"};
  absl::StatusOr<GauntletPlan> p = PlanGauntlet(bins, sel);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->variants.size(), 2u);
  // tiny-1llc: 4 vCPUs: 10 + 0 + 2 + 2. large-4llc: 128 vCPUs: 10 + 11.2 + 2 + 2.
  EXPECT_DOUBLE_EQ(EstimatedSeconds(p->variants[0]), 14);
  EXPECT_NEAR(EstimatedSeconds(p->variants[1]), 25.2, 1e-9);
}

TEST(GauntletBudgetTest, PicksCoverageNotTheFirstVariantsAndRespectsTheBudget) {
  std::vector<GauntletBinary> bins = Binaries({SchedTest("s"), EevdfTest("e")});
  absl::StatusOr<GauntletPlan> p = PlanGauntlet(bins, {});
  ASSERT_TRUE(p.ok()) << p.status();
  const size_t all = p->variants.size();
  ASSERT_GT(all, 40u);  // 15 presets x (3 + 1) profiles

  BudgetSelection sel = SelectWithinBudget(p->variants, 60);
  EXPECT_LE(sel.estimated_s, 60);
  EXPECT_FALSE(sel.chosen.empty());
  std::set<std::string> tests, flags;
  for (size_t i : sel.chosen) {
    tests.insert(p->variants[i].test->name());
    flags.insert(p->variants[i].profile_name());
  }
  // Four 14-second slots: both tests and both flags are covered before anything repeats.
  EXPECT_EQ(tests, (std::set<std::string>{"e", "s"}));
  EXPECT_TRUE(flags.count("llc+steal")) << "the profile with two flags covers most";
  EXPECT_TRUE(std::is_sorted(sel.chosen.begin(), sel.chosen.end()));
  EXPECT_NE(sel.Summary(all, 60).find(absl::StrCat("/", all, " variants")), std::string::npos)
      << sel.Summary(all, 60);

  // A generous budget stops when nothing adds coverage: every feature, far fewer variants.
  BudgetSelection big = SelectWithinBudget(p->variants, 1e6);
  EXPECT_EQ(big.features_covered, big.features_total);
  EXPECT_LT(big.chosen.size(), all);
  // Deterministic.
  EXPECT_EQ(SelectWithinBudget(p->variants, 60).chosen, sel.chosen);
  // Nothing fits: nothing chosen.
  EXPECT_TRUE(SelectWithinBudget(p->variants, 5).chosen.empty());
}

TEST(GauntletBudgetTest, FeaturesNameTheConfiguration) {
  std::vector<GauntletBinary> bins = Binaries({SchedTest("s")});
  GauntletSelection sel;
  sel.presets = {"smt-2llc"};
  sel.profiles = {"llc+steal"};
  sel.kernels = {"7.3.4"};
  absl::StatusOr<GauntletPlan> p = PlanGauntlet(bins, sel);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->variants.size(), 1u);
  EXPECT_EQ(VariantFeatures(p->variants[0]),
            (std::set<std::string>{"test:s", "scheduler:scx_x", "flag:llc", "flag:steal",
                                   "cpus<=8", "llcs<=2", "numa<=1", "smt", "expect-pass",
                                   "duration<=2", "kernel:7.3.4"}));
}

}  // namespace
}  // namespace ktstr::client
