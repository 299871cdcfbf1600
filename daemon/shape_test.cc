#include "daemon/shape.h"

#include <gtest/gtest.h>

namespace ktstr::daemon {
namespace {

ktstr::v1::VmShape Shape(uint32_t n, uint32_t l, uint32_t c, uint32_t t, uint32_t mb = 0) {
  ktstr::v1::VmShape s;
  s.mutable_topology()->set_numa_nodes(n);
  s.mutable_topology()->set_llcs(l);
  s.mutable_topology()->set_cores_per_llc(c);
  s.mutable_topology()->set_threads_per_core(t);
  s.set_memory_mb(mb);
  return s;
}

TEST(Shape, AcceptsBootableShapes) {
  EXPECT_TRUE(ValidateShape(Shape(1, 2, 4, 1)).ok());
  EXPECT_TRUE(ValidateShape(Shape(2, 4, 4, 1)).ok());
  EXPECT_TRUE(ValidateShape(Shape(1, 14, 9, 2)).ok());  // max-cpu: 252 CPUs
}

TEST(Shape, RejectsWithTheRuleThatFailed) {
  absl::Status st = ValidateShape(Shape(2, 3, 2, 1));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("2n3l2c1t"), absl::string_view::npos) << st.message();
  EXPECT_EQ(ValidateShape(Shape(0, 1, 1, 1)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateShape(Shape(1, 15, 9, 2)).code(), absl::StatusCode::kInvalidArgument);
  // Counts that would overflow a product are rejected, not wrapped around.
  EXPECT_EQ(ValidateShape(Shape(1, 1u << 31, 2, 2)).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Shape, ExplicitMemoryFollowsVmmRules) {
  EXPECT_TRUE(ValidateShape(Shape(1, 1, 2, 1, 512)).ok());
  EXPECT_EQ(ValidateShape(Shape(1, 1, 2, 1, 64)).code(), absl::StatusCode::kInvalidArgument);
  // Two nodes need an equal share each.
  EXPECT_EQ(ValidateShape(Shape(2, 2, 1, 1, 1001)).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Shape, DefaultMemoryIsAlwaysBootable) {
  for (const auto& s : {Shape(1, 1, 2, 1), Shape(2, 4, 4, 1), Shape(4, 12, 8, 2), Shape(4, 4, 1, 1)}) {
    uint32_t mb = EffectiveMemoryMb(s);
    ktstr::v1::VmShape with = s;
    with.set_memory_mb(mb);
    EXPECT_TRUE(ValidateShape(with).ok()) << TopologyString(s.topology()) << " " << mb;
    EXPECT_GE(mb, VcpuCount(s.topology()) * config::kMemoryPerCpuMb);
  }
  EXPECT_EQ(EffectiveMemoryMb(Shape(1, 1, 1, 1, 777)), 777u);
}

google::protobuf::RepeatedPtrField<std::string> Args(std::vector<std::string> v) {
  return {v.begin(), v.end()};
}

TEST(KernelArgs, OneWordEachAndNeverTheInitProcess) {
  EXPECT_TRUE(ValidateKernelArgs(Args({})).ok());
  EXPECT_TRUE(ValidateKernelArgs(Args({"nosmt", "isolcpus=2-3", "sched_ext.slice_bypass_us=500"}))
                  .ok());
  for (const char* bad : {"", "two words", "quote\"d", "tab\there", "init=/bin/sh",
                          "rdinit=/x"}) {
    absl::Status st = ValidateKernelArgs(Args({bad}));
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(ValidateKernelArgs(Args({"init=/bin/sh"})).message().find("guest agent"),
            absl::string_view::npos);
  EXPECT_FALSE(ValidateKernelArgs(Args({std::string(200, 'x')})).ok());
  EXPECT_FALSE(ValidateKernelArgs(Args(std::vector<std::string>(17, "nosmt"))).ok());
}

}  // namespace
}  // namespace ktstr::daemon
