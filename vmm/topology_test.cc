#include "vmm/topology.h"

#include <set>

#include "gtest/gtest.h"

namespace ktstr::vmm {
namespace {

TEST(TopologyTest, ParsesBothFormsAndPrintsThem) {
  absl::StatusOr<Topology> a = ParseTopology("1n2l4c1t");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, (Topology{1, 2, 4, 1}));
  absl::StatusOr<Topology> b = ParseTopology("2,4,4,2");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b, (Topology{2, 4, 4, 2}));
  EXPECT_EQ(b->ToString(), "2n4l4c2t");
  EXPECT_EQ(b->ToShellForm(), "2,4,4,2");
  EXPECT_EQ(b->TotalCpus(), 32);
  EXPECT_EQ(b->LlcsPerNode(), 2);
  EXPECT_EQ(b->CpusPerNode(), 16);
  // Round trip through both forms.
  EXPECT_EQ(*ParseTopology(b->ToString()), *b);
  EXPECT_EQ(*ParseTopology(b->ToShellForm()), *b);
}

TEST(TopologyTest, RejectsMalformedText) {
  for (const char* bad : {"", "1n2l4c", "1n2l4c1t5", "n2l4c1t", "1x2l4c1t", "1,2,4", "1,2,4,1,1",
                          "1,,4,1", "a,b,c,d", "-1,2,4,1", "1n2l4c1T", "99999n1l1c1t"}) {
    absl::StatusOr<Topology> t = ParseTopology(bad);
    EXPECT_FALSE(t.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(t.status())) << bad;
  }
}

TEST(TopologyTest, ValidationMessagesNameTheProblem) {
  absl::Status zero = (Topology{1, 0, 4, 1}).Validate();
  EXPECT_NE(zero.message().find("at least 1"), absl::string_view::npos) << zero;
  absl::Status uneven = (Topology{2, 3, 2, 1}).Validate();
  EXPECT_NE(uneven.message().find("multiple of numa_nodes"), absl::string_view::npos) << uneven;
  absl::Status big = (Topology{1, 16, 16, 1}).Validate();
  EXPECT_NE(big.message().find("more than the maximum of 252"), absl::string_view::npos) << big;
  EXPECT_TRUE((Topology{1, 14, 9, 2}).Validate().ok());  // exactly 252
  EXPECT_FALSE(ParseTopology("0n1l1c1t").ok());
  EXPECT_FALSE(ParseTopology("2n3l1c1t").ok());
}

TEST(TopologyTest, MemoryValidation) {
  EXPECT_TRUE(ValidateMemory(Topology{1, 1, 1, 1}, 256).ok());
  EXPECT_FALSE(ValidateMemory(Topology{1, 1, 1, 1}, 128).ok());
  absl::Status per_node = ValidateMemory(Topology{4, 4, 1, 1}, 256);
  EXPECT_NE(per_node.message().find("each node needs"), absl::string_view::npos) << per_node;
  EXPECT_FALSE(ValidateMemory(Topology{2, 2, 1, 1}, 1023).ok());
  EXPECT_TRUE(ValidateMemory(Topology{2, 2, 1, 1}, 1024).ok());
}

TEST(TopologyTest, TwentyFourValidUniquePresets) {
  const std::vector<TopologyPreset>& presets = AllPresets();
  ASSERT_EQ(presets.size(), 24u);
  std::set<absl::string_view> names;
  for (const TopologyPreset& p : presets) {
    EXPECT_TRUE(p.topology.Validate().ok()) << p.name;
    names.insert(p.name);
  }
  EXPECT_EQ(names.size(), 24u);
  EXPECT_EQ(FindPreset("tiny-2llc")->ToString(), "1n2l2c1t");
  EXPECT_EQ(FindPreset("smt-2llc")->ToString(), "1n2l2c2t");
  EXPECT_EQ(FindPreset("max-cpu")->TotalCpus(), 252);
  EXPECT_EQ(FindPreset("numa4-12llc")->ToString(), "4n12l8c2t");
  absl::StatusOr<Topology> unknown = FindPreset("huge");
  EXPECT_TRUE(absl::IsNotFound(unknown.status()));
  EXPECT_NE(unknown.status().message().find("tiny-1llc"), absl::string_view::npos);
}

TEST(TopologyTest, FormatCpuList) {
  EXPECT_EQ(FormatCpuList({}), "");
  EXPECT_EQ(FormatCpuList({3}), "3");
  EXPECT_EQ(FormatCpuList({0, 1, 2, 3, 8, 10, 11}), "0-3,8,10-11");
}

TEST(TopologyTest, ExpectedGuestViewOfSmtTwoNodes) {
  Topology t{2, 4, 2, 2};  // 16 CPUs, 2 LLCs per node, 4 CPUs per LLC
  std::vector<ExpectedCpu> cpus = ExpectedGuestCpus(t);
  ASSERT_EQ(cpus.size(), 16u);
  EXPECT_EQ(cpus[0].node, 0);
  EXPECT_EQ(cpus[7].node, 0);
  EXPECT_EQ(cpus[8].node, 1);
  EXPECT_EQ(cpus[5].llc_cpus, "4-7");
  EXPECT_EQ(cpus[5].thread_siblings, "4-5");
  EXPECT_EQ(cpus[14].llc_cpus, "12-15");
  EXPECT_EQ(ExpectedNodeCpuLists(t), (std::vector<std::string>{"0-7", "8-15"}));
}

}  // namespace
}  // namespace ktstr::vmm
