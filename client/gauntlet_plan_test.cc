// The gauntlet expansion without a daemon: test lists as `--ktstr-list` prints them (JSON).
#include "client/gauntlet_plan.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <set>

#include "absl/strings/match.h"
#include "client/testing/listed_binary.h"
#include "gtest/gtest.h"

namespace ktstr::client {
namespace {

// ktstr's resolved gauntlet defaults: 1..1 nodes, 1..12 LLCs, 1..192 CPUs.
constexpr char kDefaults[] =
    R"("min_numa_nodes":1,"max_numa_nodes":1,"min_llcs":1,"max_llcs":12,"min_cpus":1,)"
    R"("max_cpus":192,"requires_smt":false)";

std::string Listed(const std::string& name, const std::string& extra = kDefaults) {
  return "{\"name\":\"" + name + "\"," + extra + "}";
}

// A sched_ext test whose scheduler has flags llc and steal (requires llc): 3 profiles.
std::string SchedTest(const std::string& name) {
  return Listed(name, std::string(kDefaults) +
                        R"(,"scheduler_def":{"name":"scx_x","binary_kind":"discover",)"
                        R"("binary":"scx_x","sched_args":["--base"],"profiles":[)"
                        R"({"name":"default","flags":[],"args":["--base"]},)"
                        R"({"name":"llc","flags":["llc"],"args":["--base","--llc"]},)"
                        R"({"name":"llc+steal","flags":["llc","steal"],)"
                        R"("args":["--base","--llc","--steal"]}]})");
}

GauntletBinary Binary(const std::string& path, const std::vector<std::string>& tests) {
  return testing::ListedBinary(path, tests);
}

std::set<std::string> Presets(const GauntletPlan& p) {
  std::set<std::string> s;
  for (const GauntletVariant& v : p.variants) s.insert(v.preset);
  return s;
}

TEST(GauntletPlanTest, DefaultConstraintsKeepFifteenSingleNodePresetsUpTo192Cpus) {
  std::vector<GauntletBinary> bins = {Binary("/x/bin", {Listed("t")})};
  absl::StatusOr<GauntletPlan> p = PlanGauntlet(bins, {});
  ASSERT_TRUE(p.ok()) << p.status();
  // 24 presets - 5 multi-NUMA - near-max-llc(-nosmt) (15 LLCs) - max-cpu(-nosmt) (14 LLCs).
  EXPECT_EQ(p->variants.size(), 15u);
  EXPECT_EQ(p->constraint_skips.size(), 9u);
  EXPECT_TRUE(p->over_cap.empty());
  EXPECT_FALSE(Presets(*p).contains("numa2-4llc"));
  EXPECT_TRUE(Presets(*p).contains("large-8llc"));
  EXPECT_EQ(p->variants[0].Name(false), "gauntlet/t/tiny-1llc/default");
  EXPECT_EQ(p->variants[0].topology.llcs(), 1u);
  EXPECT_EQ(p->variants[0].topology.cores_per_llc(), 4u);
}

TEST(GauntletPlanTest, MinLlcsTwoWithSmtLeavesSixPresetsAsInKtstrsDocs) {
  std::vector<GauntletBinary> bins = {Binary(
      "/x/bin",
      {Listed("t", R"("min_numa_nodes":1,"max_numa_nodes":1,"min_llcs":2,"max_llcs":12,)"
                 R"("min_cpus":1,"max_cpus":192,"requires_smt":true)")})};
  absl::StatusOr<GauntletPlan> p = PlanGauntlet(bins, {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Presets(*p), (std::set<std::string>{"smt-2llc", "smt-3llc", "medium-4llc",
                                                "medium-8llc", "large-4llc", "large-8llc"}));
  bool smt_reason = false, llc_reason = false;
  for (const GauntletSkip& s : p->constraint_skips) {
    if (s.preset == "tiny-2llc") smt_reason = s.reason == "no SMT (requires_smt)";
    if (s.preset == "tiny-1llc") llc_reason = s.reason == "1 LLCs < min_llcs 2";
  }
  EXPECT_TRUE(smt_reason);
  EXPECT_TRUE(llc_reason);
}

TEST(GauntletPlanTest, NumaConstraintsSelectMultiNodePresets) {
  std::vector<GauntletBinary> bins = {Binary(
      "/x/bin", {Listed("t", R"("min_numa_nodes":2,"max_numa_nodes":4,"max_llcs":12,)"
                           R"("max_cpus":32)")})};
  absl::StatusOr<GauntletPlan> p = PlanGauntlet(bins, {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Presets(*p), (std::set<std::string>{"numa2-4llc", "numa4-8llc"}));
}

TEST(GauntletPlanTest, PresetsOverTheVcpuCapAreSkippedAndCounted) {
  std::vector<GauntletBinary> bins = {Binary("/x/bin", {Listed("a"), SchedTest("b")})};
  GauntletSelection sel;
  sel.max_vcpus = 4;
  absl::StatusOr<GauntletPlan> p = PlanGauntlet(bins, sel);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Presets(*p), (std::set<std::string>{"tiny-1llc", "tiny-2llc"}));
  // a: 2 presets x 1 profile, b: 2 presets x 3 profiles.
  EXPECT_EQ(p->variants.size(), 8u);
  // 13 of the 15 allowed presets are over 4 vCPUs, for a (1 profile) and b (3 profiles).
  EXPECT_EQ(p->over_cap.size(), 13u);
  EXPECT_EQ(p->over_cap_variants, 13u * 4);
  EXPECT_EQ(p->over_cap.front(), "odd-3llc");
  std::string text = FormatPlan(*p, bins, sel);
  EXPECT_TRUE(absl::StrContains(text, "skipped over the 4-vCPU cap: 13 presets, 52 variants"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "odd-3llc (9)")) << text;
}

TEST(GauntletPlanTest, PlanJsonHasEveryVariantAndEverySkipWithItsReason) {
  std::vector<GauntletBinary> bins = {Binary(
      "/x/bin", {SchedTest("b"), Listed("one_llc", R"("min_numa_nodes":1,"max_numa_nodes":1,)"
                                                   R"("min_llcs":1,"max_llcs":1,"min_cpus":1,)"
                                                   R"("max_cpus":192,"requires_smt":false)"),
                 Listed("h", std::string(kDefaults) + ",\"host_only\":true")})};
  GauntletSelection sel;
  sel.presets = {"tiny-1llc", "tiny-2llc", "odd-3llc"};
  sel.max_vcpus = 4;
  absl::StatusOr<GauntletPlan> p = PlanGauntlet(bins, sel);
  ASSERT_TRUE(p.ok()) << p.status();
  const std::string json = FormatPlanJson(*p, bins, sel);
  google::protobuf::Struct root;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &root).ok()) << json;
  const auto& f = root.fields();
  EXPECT_EQ(f.at("vcpu_cap").number_value(), 4);
  // b: tiny-1llc and tiny-2llc x 3 profiles; one_llc: tiny-1llc only.
  const auto& variants = f.at("variants").list_value().values();
  ASSERT_EQ(variants.size(), 7) << json;
  ASSERT_EQ(variants.size(), static_cast<int>(p->variants.size()));
  const auto& first = variants[0].struct_value().fields();
  EXPECT_EQ(first.at("name").string_value(), p->variants[0].Name(false));
  EXPECT_EQ(first.at("binary").string_value(), "/x/bin");
  EXPECT_EQ(first.at("test").string_value(), "b");
  EXPECT_EQ(first.at("preset").string_value(), "tiny-1llc");
  EXPECT_EQ(first.at("topology").struct_value().fields().at("cores_per_llc").number_value(), 4);
  EXPECT_EQ(first.at("vcpus").number_value(), 4);
  EXPECT_EQ(first.at("kernel").string_value(), "");
  const auto& over = f.at("over_cap").struct_value().fields();
  ASSERT_EQ(over.at("presets").list_value().values_size(), 1) << json;
  EXPECT_EQ(over.at("presets").list_value().values(0).string_value(), "odd-3llc");
  EXPECT_EQ(over.at("variants").number_value(), 3);  // b's 3 profiles; one_llc is a constraint skip
  const auto& skips = f.at("constraint_skips").list_value().values();
  ASSERT_EQ(skips.size(), 2) << json;  // one_llc on tiny-2llc and odd-3llc
  EXPECT_EQ(skips[0].struct_value().fields().at("reason").string_value(), "2 LLCs > max_llcs 1");
  ASSERT_EQ(f.at("host_only").list_value().values_size(), 1);
  EXPECT_EQ(f.at("host_only").list_value().values(0).string_value(), "h");
}

TEST(GauntletPlanTest, ProfilesTimesPresetsTimesKernels) {
  std::vector<GauntletBinary> bins = {Binary("/x/bin", {Listed("a"), SchedTest("b")})};
  GauntletSelection sel;
  sel.presets = {"tiny-2llc", "smt-2llc", "odd-3llc"};
  sel.kernels = {"7.3.4", "mykernel", "7.3.4"};  // a repeated kernel counts once
  absl::StatusOr<GauntletPlan> p = PlanGauntlet(bins, sel);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->variants.size(), 3u * 1 * 2 + 3u * 3 * 2);
  EXPECT_TRUE(p->several_kernels);
  EXPECT_TRUE(absl::StrContains(FormatPlan(*p, bins, sel), "(2 kernels: 7.3.4, mykernel)"));
  std::set<std::string> names;
  for (const GauntletVariant& v : p->variants) names.insert(v.Name(true));
  EXPECT_EQ(names.size(), p->variants.size());  // every variant has its own name
  EXPECT_TRUE(names.contains("gauntlet/b/smt-2llc/llc+steal/mykernel"));
  EXPECT_TRUE(names.contains("gauntlet/a/odd-3llc/default/7.3.4"));
  // The profile carries the scheduler argv the job will get.
  for (const GauntletVariant& v : p->variants) {
    if (v.test->name() == "b" && v.profile_name() == "llc") {
      ASSERT_NE(v.profile, nullptr);
      EXPECT_EQ(v.profile->args_size(), 2);
      EXPECT_EQ(v.profile->flags(0), "llc");
    }
    if (v.test->name() == "a") {
      EXPECT_EQ(v.profile, nullptr);
    }
  }
}

TEST(GauntletPlanTest, ProfileFilterAndTestFilter) {
  std::vector<GauntletBinary> bins = {
      Binary("/x/one", {Listed("steady"), SchedTest("sched_steady"), SchedTest("other")})};
  GauntletSelection sel;
  sel.filter = "steady";
  sel.presets = {"tiny-1llc"};
  sel.profiles = {"llc"};
  absl::StatusOr<GauntletPlan> p = PlanGauntlet(bins, sel);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->tests_selected, 2u);
  ASSERT_EQ(p->variants.size(), 1u);  // "steady" (EEVDF) has no llc profile
  EXPECT_EQ(p->variants[0].Name(false), "gauntlet/sched_steady/tiny-1llc/llc");
}

TEST(GauntletPlanTest, HostOnlyTestsNeverExpand) {
  std::vector<GauntletBinary> bins = {
      Binary("/x/bin", {Listed("vm"), Listed("host", std::string(kDefaults) + ",\"host_only\":true")})};
  absl::StatusOr<GauntletPlan> p = PlanGauntlet(bins, {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->host_only, std::vector<std::string>{"host"});
  for (const GauntletVariant& v : p->variants) EXPECT_EQ(v.test->name(), "vm");
}

TEST(GauntletPlanTest, UnknownPresetOrProfileIsAnInvalidArgumentNamingTheKnownOnes) {
  std::vector<GauntletBinary> bins = {Binary("/x/bin", {Listed("a"), SchedTest("b")})};
  GauntletSelection sel;
  sel.presets = {"tiny-1llc", "tiny-9llc"};
  absl::StatusOr<GauntletPlan> p = PlanGauntlet(bins, sel);
  ASSERT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(p.status().message(), "tiny-9llc")) << p.status();
  EXPECT_TRUE(absl::StrContains(p.status().message(), "numa4-12llc")) << p.status();

  sel.presets.clear();
  sel.profiles = {"llc", "borrow"};
  p = PlanGauntlet(bins, sel);
  ASSERT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(p.status().message(), "'borrow'")) << p.status();
  EXPECT_TRUE(absl::StrContains(p.status().message(), "default, llc, llc+steal")) << p.status();
}

TEST(GauntletPlanTest, AnOlderListWithoutConstraintsIsUnbounded) {
  std::vector<GauntletBinary> bins = {Binary("/x/bin", {"{\"name\":\"old\"}"})};
  absl::StatusOr<GauntletPlan> p = PlanGauntlet(bins, {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->variants.size(), vmm::AllPresets().size());
}

TEST(GauntletPlanTest, ConstraintViolationNamesTheRule) {
  ktstr::v1::ListedTest t;
  t.set_min_cpus(8);
  t.set_max_cpus(64);
  EXPECT_EQ(*ConstraintViolation(t, *vmm::FindPreset("tiny-1llc")), "4 CPUs < min_cpus 8");
  EXPECT_EQ(*ConstraintViolation(t, *vmm::FindPreset("large-4llc")), "128 CPUs > max_cpus 64");
  EXPECT_FALSE(ConstraintViolation(t, *vmm::FindPreset("smt-2llc")).has_value());
}

}  // namespace
}  // namespace ktstr::client
