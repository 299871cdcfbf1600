// Topology from a fake sysfs tree shaped like QEMU's 2 LLCs x 2 cores x 2 threads in 1 node,
// plus the real host's sysfs for a sanity check.
#include "guest_agent/guest_info.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "guest_agent/files.h"
#include "gtest/gtest.h"

namespace ktstr::agent {
namespace {

void Put(const std::string& path, const std::string& data) {
  ASSERT_TRUE(MakeParentDirs(path).ok());
  std::ofstream(path) << data << "\n";
}

TEST(CpuListTest, Parses) {
  EXPECT_EQ(*ParseCpuList("0-3,8,10-11"), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_TRUE(ParseCpuList("")->empty());
  EXPECT_FALSE(ParseCpuList("3-1").ok());
  EXPECT_FALSE(ParseCpuList("a").ok());
}

TEST(GuestTopologyTest, FakeSysfsTwoLlcsSmt) {
  const std::string root = absl::StrCat(std::getenv("TEST_TMPDIR"), "/fakesys");
  const std::string cpu = root + "/sys/devices/system/cpu";
  Put(cpu + "/online", "0-7");
  for (int c = 0; c < 8; ++c) {
    const std::string d = absl::StrCat(cpu, "/cpu", c);
    Put(d + "/topology/physical_package_id", "0");
    Put(d + "/topology/die_id", absl::StrCat(c / 4));
    Put(d + "/topology/core_id", absl::StrCat((c % 4) / 2));
    Put(d + "/topology/thread_siblings_list", absl::StrCat(c / 2 * 2, "-", c / 2 * 2 + 1));
    Put(d + "/cache/index0/level", "1");
    Put(d + "/cache/index0/type", "Data");
    Put(d + "/cache/index0/shared_cpu_list", absl::StrCat(c / 2 * 2, "-", c / 2 * 2 + 1));
    Put(d + "/cache/index3/level", "3");
    Put(d + "/cache/index3/type", "Unified");
    Put(d + "/cache/index3/shared_cpu_list", c < 4 ? "0-3" : "4-7");
  }
  Put(root + "/sys/devices/system/node/node0/cpulist", "0-7");
  Put(root + "/proc/meminfo", "MemTotal:        1004436 kB\nMemFree: 1 kB");
  auto t = ReadGuestTopology(root + "/sys", root + "/proc");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->cpus(), 8u);
  EXPECT_EQ(t->numa_nodes(), 1u);
  EXPECT_EQ(t->llcs(), 2u);
  EXPECT_EQ(t->cores_per_llc(), 2u);
  EXPECT_EQ(t->threads_per_core(), 2u);
  EXPECT_EQ(t->memory_kb(), 1004436u);
  EXPECT_EQ(t->cpu(5).llc_id(), 4u);
  EXPECT_EQ(t->cpu(5).die_id(), 1u);
  EXPECT_EQ(t->cpu(5).thread_siblings(), "4-5");

  // sched_ext: absent without the directory, then each state.
  EXPECT_EQ(ReadSchedExt(root + "/sys").state, v1::SCHED_EXT_STATE_ABSENT);
  Put(root + "/sys/kernel/sched_ext/state", "enabled");
  Put(root + "/sys/kernel/sched_ext/root/ops", "scx_fifo");
  SchedExtStatus s = ReadSchedExt(root + "/sys");
  EXPECT_EQ(s.state, v1::SCHED_EXT_STATE_ENABLED);
  EXPECT_EQ(s.ops, "scx_fifo");
}

TEST(GuestTopologyTest, RealHostIsConsistent) {
  auto t = ReadGuestTopology();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->cpus(), static_cast<uint32_t>(::sysconf(_SC_NPROCESSORS_ONLN)));
  EXPECT_EQ(t->llcs() * t->cores_per_llc() * t->threads_per_core(), t->cpus());
}

TEST(GuestTopologyTest, MissingSysfsIsAnError) {
  EXPECT_FALSE(ReadGuestTopology("/nonexistent/sys").ok());
}

}  // namespace
}  // namespace ktstr::agent
