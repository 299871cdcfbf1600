// Real cgroups on this machine (root): the detected backend (cgroup v2, or the v1 cpuset
// hierarchy on hybrid hosts) creates, populates and removes its subtree.
#include "guest_agent/testlib/cgroup_manager.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ktstr {
namespace {

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A child that sleeps until killed; RAII so no test leaves it behind.
struct Sleeper {
  pid_t pid = fork();
  Sleeper() {
    if (pid == 0) {
      pause();
      _exit(0);
    }
  }
  ~Sleeper() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
};

std::string CgroupOf(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cgroup"));
  std::string line, out;
  while (std::getline(in, line)) out += line + "\n";
  return out;
}

TEST(CgroupManagerTest, CreatesPopulatesAndRemovesItsSubtree) {
  const std::string name = absl::StrCat("ktstr-", getpid());
  std::string root;
  {
    absl::StatusOr<std::unique_ptr<CgroupManager>> m = CgroupManager::Open(name);
    ASSERT_TRUE(m.ok()) << m.status();
    CgroupManager& mgr = **m;
    root = mgr.root_path();
    EXPECT_TRUE(IsDir(root)) << root;
    EXPECT_FALSE(mgr.Describe().empty());
    ASSERT_TRUE(mgr.Create("outer/inner").ok());
    ASSERT_TRUE(mgr.Create("outer/other").ok());
    EXPECT_TRUE(mgr.Exists("outer/inner"));
    ASSERT_TRUE(mgr.SetCpuset("outer/inner", {0}).ok());
    absl::StatusOr<CpuSet> eff = mgr.EffectiveCpus("outer/inner");
    ASSERT_TRUE(eff.ok()) << eff.status();
    EXPECT_EQ(*eff, (CpuSet{0}));

    Sleeper s;
    ASSERT_TRUE(mgr.MoveTask("outer/inner", s.pid).ok());
    EXPECT_NE(CgroupOf(s.pid).find(name + "/outer/inner"), std::string::npos) << CgroupOf(s.pid);
    EXPECT_EQ(*mgr.Tasks("outer/inner"), std::vector<pid_t>{s.pid});
    ASSERT_TRUE(mgr.MoveAllTasks("outer/inner", "outer/other").ok());
    EXPECT_TRUE(mgr.Tasks("outer/inner")->empty());
    EXPECT_EQ(*mgr.Tasks("outer/other"), std::vector<pid_t>{s.pid});
    ASSERT_TRUE(mgr.ClearCpuset("outer/inner").ok());
    EXPECT_FALSE(mgr.SetCpuset("outer/inner", {}).ok());
    EXPECT_FALSE(mgr.Create("../escape").ok());
    // Removing a populated cgroup fails (EBUSY after the retry window) and says so...
    // (skipped: the retry window would cost 2 s) ... while an empty one goes away.
    ASSERT_TRUE(mgr.Remove("outer/inner").ok());
    EXPECT_FALSE(mgr.Exists("outer/inner"));
  }  // the Sleeper is killed first (declared later), then the manager removes the rest
  EXPECT_FALSE(IsDir(root)) << root << " left behind";
}

TEST(CgroupManagerTest, RemovesStaleRootsOfDeadHarnesses) {
  absl::StatusOr<CgroupFlavor> flavor = CgroupManager::Detect("/sys/fs/cgroup");
  ASSERT_TRUE(flavor.ok()) << flavor.status();
  const std::string hierarchy =
      *flavor == CgroupFlavor::kV2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpuset";
  // A pid that is certainly dead: a child we already reaped.
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string stale = absl::StrCat(hierarchy, "/ktstr-", dead);
  ASSERT_EQ(mkdir(stale.c_str(), 0755), 0) << stale;
  ASSERT_EQ(mkdir((stale + "/cg_0").c_str(), 0755), 0);
  EXPECT_GE(RemoveStaleRoots(hierarchy), 1);
  EXPECT_FALSE(IsDir(stale));
}

TEST(CgroupManagerTest, NoUsableHierarchyIsAClearError) {
  const char* tmp = getenv("TEST_TMPDIR");
  absl::StatusOr<CgroupFlavor> f = CgroupManager::Detect(tmp ? tmp : "/tmp");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("not a cgroup2 mount offering the cpuset controller"),
            std::string::npos);
  EXPECT_NE(f.status().message().find("v1 cpuset"), std::string::npos);
}

}  // namespace
}  // namespace ktstr
