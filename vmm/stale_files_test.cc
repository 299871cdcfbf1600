#include "vmm/stale_files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
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

TEST(StaleFilesTest, RemovesOnlyFilesOfOwnersWhoseLockIsFree) {
  const std::string root =
      absl::StrCat(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp", "/stale_", getpid());
  const std::string work = root + "/work", ram = root + "/ram";
  ASSERT_EQ(mkdir(root.c_str(), 0700), 0);
  ASSERT_EQ(mkdir(work.c_str(), 0700), 0);
  ASSERT_EQ(mkdir(ram.c_str(), 0700), 0);

  absl::StatusOr<std::string> live = AcquireOwnerToken(ram);
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ(*AcquireOwnerToken(ram), *live);  // once per process
  // A dead owner: its lock file exists but nobody holds it.
  const std::string dead = "999999_deadbeef";
  std::ofstream(ram + "/ktstr-vmowner-" + dead + ".lock") << "";
  // An owner held by another open file description (as another live process would).
  const std::string other = "888888_0badcafe";
  const std::string other_lock = ram + "/ktstr-vmowner-" + other + ".lock";
  std::ofstream(other_lock) << "";
  int other_fd = open(other_lock.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_EQ(flock(other_fd, LOCK_EX | LOCK_NB), 0);
  // A lock-less token (e.g. an older naming or a foreign tool): never judged.
  const std::string unknown = "777777_00000000";

  std::string dead_dir = WorkDirTemplate(work, dead);
  ASSERT_NE(mkdtemp(dead_dir.data()), nullptr);
  std::ofstream(dead_dir + "/console.log") << "x";
  std::string live_dir = WorkDirTemplate(work, *live);
  ASSERT_NE(mkdtemp(live_dir.data()), nullptr);
  const std::string dead_ram = RamFilePrefix(ram, dead, "0-abc") + "-node0.ram";
  const std::string dead_state = RamFilePrefix(ram, dead, "0-abc") + ".state";
  const std::string live_ram = RamFilePrefix(ram, *live, "0-abc") + "-node0.ram";
  const std::string other_ram = RamFilePrefix(ram, other, "0-abc") + "-node0.ram";
  const std::string unknown_ram = RamFilePrefix(ram, unknown, "0-abc") + "-node0.ram";
  const std::string foreign = ram + "/ktstr-base-1234";
  for (const std::string& f : {dead_ram, dead_state, live_ram, other_ram, unknown_ram, foreign}) {
    std::ofstream(f) << "x";
  }

  EXPECT_EQ(RemoveStaleVmFiles(work, ram), 4);  // dir, ram, state, lock of the dead owner
  EXPECT_FALSE(Exists(dead_dir));
  EXPECT_FALSE(Exists(dead_ram));
  EXPECT_FALSE(Exists(dead_state));
  EXPECT_FALSE(Exists(ram + "/ktstr-vmowner-" + dead + ".lock"));
  for (const std::string& f : {live_dir, live_ram, other_ram, other_lock, unknown_ram, foreign}) {
    EXPECT_TRUE(Exists(f)) << f;
  }
  EXPECT_EQ(RemoveStaleVmFiles(work, ram), 0);

  close(other_fd);  // the other owner "dies"
  EXPECT_EQ(RemoveStaleVmFiles(work, ram), 2);
  EXPECT_FALSE(Exists(other_ram));
  EXPECT_EQ(RemoveStaleVmFiles(root + "/missing", root + "/missing"), 0);
}

}  // namespace
}  // namespace ktstr::vmm
