#include "daemon/qemu_reaper.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "daemon/fs_util.h"
#include "gtest/gtest.h"

namespace ktstr::daemon {
namespace {

TEST(QemuReaper, NeverKillsARecordedPidThatIsNotQemu) {
  std::string dir = std::string(getenv("TEST_TMPDIR")) + "/qemu-pids";
  RemoveTree(dir);
  pid_t child = fork();
  if (child == 0) {
    execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    _exit(127);
  }
  RecordQemuPid(dir, child);  // e.g. a pid reused by another program after a daemon crash
  EXPECT_TRUE(ReadFileToString(absl::StrCat(dir, "/", child)).ok());
  EXPECT_EQ(KillRecordedQemus(dir), 0);
  EXPECT_EQ(kill(child, 0), 0) << "a non-QEMU process was killed";
  EXPECT_FALSE(ReadFileToString(absl::StrCat(dir, "/", child)).ok()) << "record not cleared";
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

TEST(QemuReaper, ForgetRemovesTheRecord) {
  std::string dir = std::string(getenv("TEST_TMPDIR")) + "/qemu-pids2";
  RecordQemuPid(dir, 4242);
  ForgetQemuPid(dir, 4242);
  EXPECT_FALSE(ReadFileToString(dir + "/4242").ok());
  EXPECT_EQ(KillRecordedQemus(dir + "/missing"), 0);
}

}  // namespace
}  // namespace ktstr::daemon
