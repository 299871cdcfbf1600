#include "guest_agent/testlib/topology.h"

#include "gtest/gtest.h"
#include "guest_agent/testlib/ops.h"

namespace ktstr {
namespace {

TEST(CpuListTest, ParseAndFormatRoundTrip) {
  absl::StatusOr<CpuSet> s = ParseCpuList("0-3,5,7-9\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, (CpuSet{0, 1, 2, 3, 5, 7, 8, 9}));
  EXPECT_EQ(FormatCpuList(*s), "0-3,5,7-9");
  EXPECT_EQ(FormatCpuList({}), "");
  EXPECT_EQ(FormatCpuList({4}), "4");
  EXPECT_EQ(*ParseCpuList("3,1,1,2"), (CpuSet{1, 2, 3}));
  EXPECT_TRUE(ParseCpuList("")->empty());
  EXPECT_FALSE(ParseCpuList("3-1").ok());
  EXPECT_FALSE(ParseCpuList("a").ok());
  EXPECT_FALSE(ParseCpuList("1,,2").ok());
  EXPECT_EQ(CpuUnion({0, 2}, {1, 2}), (CpuSet{0, 1, 2}));
  EXPECT_EQ(CpuIntersect({0, 2, 3}, {2, 3, 4}), (CpuSet{2, 3}));
  EXPECT_TRUE(CpuSubset({1}, {0, 1}));
  EXPECT_FALSE(CpuSubset({1, 5}, {0, 1}));
}

TEST(TopologyTest, SpecLayoutAndUsableCpus) {
  TestTopology t = TestTopology::FromSpec(1, 2, 4, 1);  // 8 CPUs, LLC0 = 0-3, LLC1 = 4-7
  EXPECT_EQ(t.num_cpus(), 8);
  EXPECT_EQ(t.num_llcs(), 2);
  EXPECT_EQ(t.usable_cpus(), (CpuSet{0, 1, 2, 3, 4, 5, 6}));  // last CPU kept for the root
  EXPECT_EQ(t.llc_aligned_cpuset(0), (CpuSet{0, 1, 2, 3}));
  EXPECT_EQ(t.llc_aligned_cpuset(1), (CpuSet{4, 5, 6}));
  EXPECT_TRUE(t.llc_aligned_cpuset(2).empty());
  EXPECT_EQ(t.split_by_llc().size(), 2u);
  EXPECT_EQ(TestTopology::FromSpec(1, 1, 2, 1).usable_cpus(), (CpuSet{0, 1}));  // <= 2: all
  TestTopology numa = TestTopology::FromSpec(2, 4, 2, 1);                       // nodes 0-3 / 4-7
  EXPECT_EQ(numa.num_numa_nodes(), 2);
  EXPECT_EQ(numa.numa_aligned_cpuset(1), (CpuSet{4, 5, 6}));
  EXPECT_EQ(numa.node_of(5), 1);
  EXPECT_TRUE(TestTopology::FromSpec(1, 2, 2, 2).has_smt());
  EXPECT_EQ(t.DebugString(), "1n2l4c1t cpus=0-7");
}

TEST(TopologyTest, HostSysfsIsReadable) {
  absl::StatusOr<TestTopology> t = TestTopology::FromSysfs();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_GE(t->num_cpus(), 1);
  EXPECT_GE(t->num_llcs(), 1);
  EXPECT_FALSE(TestTopology::FromSysfs("/nonexistent").ok());
}

TEST(CpusetSpecTest, ResolvesAgainstTopology) {
  TestTopology t = TestTopology::FromSpec(1, 2, 4, 1);  // usable 0-6
  EXPECT_EQ(*CpusetSpec::Llc(1).Resolve(t), (CpuSet{4, 5, 6}));
  EXPECT_EQ(*CpusetSpec::Numa(0).Resolve(t), (CpuSet{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(*CpusetSpec::Range(0, 0.5).Resolve(t), (CpuSet{0, 1, 2}));
  EXPECT_EQ(*CpusetSpec::Range(0.5, 1).Resolve(t), (CpuSet{3, 4, 5, 6}));
  EXPECT_EQ(*CpusetSpec::Disjoint(0, 2).Resolve(t), (CpuSet{0, 1, 2}));
  EXPECT_EQ(*CpusetSpec::Disjoint(1, 2).Resolve(t), (CpuSet{3, 4, 5, 6}));  // remainder
  EXPECT_EQ(*CpusetSpec::Overlap(0, 2, 0.5).Resolve(t), (CpuSet{0, 1, 2, 3, 4}));
  EXPECT_EQ(*CpusetSpec::Overlap(1, 2, 0.5).Resolve(t), (CpuSet{3, 4, 5, 6}));
  EXPECT_EQ(*CpusetSpec::Exact({1, 7}).Resolve(t), (CpuSet{1, 7}));
}

TEST(CpusetSpecTest, ErrorsSayWhy) {
  TestTopology t = TestTopology::FromSpec(1, 1, 4, 1);  // usable 0-2
  absl::StatusOr<CpuSet> r = CpusetSpec::Disjoint(0, 8).Resolve(t);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "not enough usable CPUs (3) for 8 partitions");
  EXPECT_FALSE(CpusetSpec::Llc(1).Resolve(t).ok());
  EXPECT_FALSE(CpusetSpec::Numa(3).Resolve(t).ok());
  EXPECT_FALSE(CpusetSpec::Range(0.5, 0.5).Resolve(t).ok());
  EXPECT_FALSE(CpusetSpec::Disjoint(2, 2).Resolve(t).ok());
  EXPECT_FALSE(CpusetSpec::Exact({9}).Resolve(t).ok());
  EXPECT_FALSE(CpusetSpec::Exact({}).Resolve(t).ok());
  EXPECT_FALSE(CpusetSpec::Overlap(0, 2, 1.5).Resolve(t).ok());
}

TEST(AffinityTest, ResolvesPerWorker) {
  TestTopology t = TestTopology::FromSpec(1, 2, 4, 1);
  std::vector<CpuSet> single = ResolveAffinity(AffinityKind::SingleCpu(), t, {4, 5}, 3, 1);
  EXPECT_EQ(single, (std::vector<CpuSet>{{4}, {5}, {4}}));
  std::vector<CpuSet> inherit = ResolveAffinity(AffinityKind::Inherit(), t, {}, 2, 1);
  EXPECT_TRUE(inherit[0].empty() && inherit[1].empty());
  std::vector<CpuSet> llc = ResolveAffinity(AffinityKind::LlcAligned(), t, {}, 1, 1);
  EXPECT_EQ(llc[0], (CpuSet{0, 1, 2, 3}));
  for (const CpuSet& s : ResolveAffinity(AffinityKind::RandomSubset(), t, {0, 1, 2, 3}, 4, 7)) {
    EXPECT_EQ(s.size(), 2u);
    EXPECT_TRUE(CpuSubset(s, {0, 1, 2, 3}));
  }
  EXPECT_EQ(ResolveAffinity(AffinityKind::CrossCgroup(), t, {0}, 1, 1)[0].size(), 8u);
}

TEST(HoldSpecTest, Validation) {
  EXPECT_TRUE(HoldSpec::Full().Validate().ok());
  EXPECT_FALSE(HoldSpec::Frac(0).Validate().ok());
  EXPECT_FALSE(HoldSpec::Frac(-1).Validate().ok());
  EXPECT_FALSE(HoldSpec::Fixed(std::chrono::milliseconds(0)).Validate().ok());
  EXPECT_FALSE(HoldSpec::Loop(std::chrono::milliseconds(0)).Validate().ok());
  EXPECT_TRUE(HoldSpec::Loop(std::chrono::milliseconds(10)).Validate().ok());
}

TEST(CgroupDefTest, WorkGroups) {
  EXPECT_EQ(CgroupDef::named("a").works().size(), 1u);  // one default CpuSpin group
  CgroupDef d = CgroupDef::named("b").workers(4).work(
      Work{.workers = 2, .work_type = WorkType::yield_heavy()});
  ASSERT_EQ(d.works().size(), 2u);
  EXPECT_EQ(d.works()[0].workers, 4);
  EXPECT_EQ(d.works()[1].work_type.kind, WorkKind::kYieldHeavy);
  EXPECT_EQ(CgroupDef::named("c").work(Work{}).works().size(), 1u);
  EXPECT_EQ(OpName(Op{op::MoveAllTasks{"a", "b"}}), std::string("MoveAllTasks"));
}

}  // namespace
}  // namespace ktstr
