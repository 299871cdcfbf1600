#include "vmm/stale_files.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ktstr::vmm {
namespace {

bool Exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

pid_t DeadPid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

TEST(StaleFilesTest, RemovesOnlyFilesOfDeadOwners) {
  const std::string root = absl::StrCat(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp",
                                        "/stale_", getpid());
  const std::string work = root + "/work", ram = root + "/ram";
  ASSERT_EQ(mkdir(root.c_str(), 0700), 0);
  ASSERT_EQ(mkdir(work.c_str(), 0700), 0);
  ASSERT_EQ(mkdir(ram.c_str(), 0700), 0);
  const pid_t dead = DeadPid();

  std::string dead_dir = WorkDirTemplate(work, dead);
  ASSERT_NE(mkdtemp(dead_dir.data()), nullptr);
  std::ofstream(dead_dir + "/console.log") << "x";
  std::string live_dir = WorkDirTemplate(work, getpid());
  ASSERT_NE(mkdtemp(live_dir.data()), nullptr);
  const std::string dead_ram = RamFilePrefix(ram, dead, "0-abc") + "-node0.ram";
  const std::string dead_state = RamFilePrefix(ram, dead, "0-abc") + ".state";
  const std::string live_ram = RamFilePrefix(ram, getpid(), "0-abc") + "-node0.ram";
  const std::string foreign = ram + "/ktstr-base-1234";  // someone else's naming
  for (const std::string& f : {dead_ram, dead_state, live_ram, foreign}) std::ofstream(f) << "x";

  EXPECT_EQ(RemoveStaleVmFiles(work, ram), 3);
  EXPECT_FALSE(Exists(dead_dir));
  EXPECT_FALSE(Exists(dead_ram));
  EXPECT_FALSE(Exists(dead_state));
  EXPECT_TRUE(Exists(live_dir));
  EXPECT_TRUE(Exists(live_ram));
  EXPECT_TRUE(Exists(foreign));
  EXPECT_EQ(RemoveStaleVmFiles(work, ram), 0);
  EXPECT_EQ(RemoveStaleVmFiles(root + "/missing", root + "/missing"), 0);
}

}  // namespace
}  // namespace ktstr::vmm
