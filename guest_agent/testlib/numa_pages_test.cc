#include "guest_agent/testlib/numa_pages.h"

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace ktstr {
namespace {

// Lines as a 6.x kernel prints them for a worker bound to node 1.
constexpr char kNumaMaps[] =
    "55d0c8a00000 bind:1 file=/baremetal_tests mapped=40 N0=40 kernelpagesize_kB=4\n"
    "55d0c9c00000 bind:1 heap anon=30 dirty=30 N0=2 N1=28 kernelpagesize_kB=4\n"
    "7f3c1c000000 bind:1 anon=512 dirty=512 active=0 N1=512 kernelpagesize_kB=4\n"
    "7f3c1e000000 bind:1 file=/usr/lib/x86_64-linux-gnu/libc.so.6 mapped=100 mapmax=9 N0=100 "
    "kernelpagesize_kB=4\n"
    "7ffd5a000000 bind:1 stack anon=8 dirty=8 N0=8 kernelpagesize_kB=4\n"
    "7ffd5a100000 default anon=64 dirty=64 mapmax=2 N0=64 kernelpagesize_kB=4\n"
    "7ffd5b000000 bind:1\n"
    "garbage anon=1 Nx=5 N=3 N2=notanumber\n";

TEST(NumaPagesTest, CountsOnlyAnonymousPagesPerNode) {
  std::map<int, uint64_t> pages = AnonPagesPerNode(kNumaMaps);
  EXPECT_EQ(pages, (std::map<int, uint64_t>{{0, 10}, {1, 540}}));
  EXPECT_TRUE(AnonPagesPerNode("").empty());
}

TEST(NumaPagesTest, VmstatMigratedCounter) {
  EXPECT_EQ(NumaPagesMigrated("nr_free_pages 1234\nnuma_pages_migrated 77\nnuma_hit 5\n"), 77u);
  EXPECT_EQ(NumaPagesMigrated("numa_pages_migrated_x 9\nnr_free_pages 1\n"), 0u);
}

TEST(NumaPagesTest, MemoryOnlyNodesHaveAnEmptyCpulist) {
  const std::string dir = std::string(getenv("TEST_TMPDIR")) + "/node";
  for (const char* n : {"node0", "node1", "node2", "possible"}) {
    mkdir(dir.c_str(), 0755);
    mkdir((dir + "/" + n).c_str(), 0755);
  }
  std::ofstream(dir + "/node0/cpulist") << "0-3\n";
  std::ofstream(dir + "/node1/cpulist") << "\n";
  std::ofstream(dir + "/node2/cpulist") << "4-7\n";
  EXPECT_EQ(MemoryOnlyNodes(dir), (std::set<int>{1}));
  EXPECT_TRUE(MemoryOnlyNodes(dir + "/missing").empty());
}

TEST(NumaPagesTest, ThisProcessHasAnonymousPages) {
  // The real file of this process: heap and stack exist, so something is counted (on a
  // kernel without NUMA, numa_maps is absent and nothing is).
  const std::string text = ReadProcText("/proc/self/numa_maps");
  if (text.empty()) GTEST_SKIP() << "no /proc/self/numa_maps on this kernel";
  uint64_t total = 0;
  for (const auto& [node, n] : AnonPagesPerNode(text)) total += n;
  EXPECT_GT(total, 0u);
}

}  // namespace
}  // namespace ktstr
