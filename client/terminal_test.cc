// RawTerminal and WinchPipe on a real pseudo-terminal (posix_openpt) and real signals.
#include "client/terminal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace ktstr::client {
namespace {

class PtyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = posix_openpt(O_RDWR | O_NOCTTY);
    ASSERT_GE(master_, 0);
    ASSERT_EQ(grantpt(master_), 0);
    ASSERT_EQ(unlockpt(master_), 0);
    slave_ = open(ptsname(master_), O_RDWR | O_NOCTTY);
    ASSERT_GE(slave_, 0);
  }
  void TearDown() override {
    close(slave_);
    close(master_);
  }
  termios Mode() {
    termios t{};
    EXPECT_EQ(tcgetattr(slave_, &t), 0);
    return t;
  }
  int master_ = -1, slave_ = -1;
};

TEST_F(PtyTest, RawModeIsEnteredAndRestored) {
  const termios before = Mode();
  ASSERT_TRUE(before.c_lflag & ICANON);
  ASSERT_TRUE(before.c_lflag & ECHO);
  {
    absl::StatusOr<std::unique_ptr<RawTerminal>> raw = RawTerminal::Enter(slave_);
    ASSERT_TRUE(raw.ok()) << raw.status();
    const termios in_raw = Mode();
    EXPECT_FALSE(in_raw.c_lflag & (ICANON | ECHO | ISIG));
  }
  const termios after = Mode();
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  EXPECT_EQ(after.c_oflag, before.c_oflag);
}

TEST_F(PtyTest, FatalSignalRestoresTheTerminalBeforeDying) {
  const termios before = Mode();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto raw = RawTerminal::Enter(slave_);
    if (!raw.ok()) _exit(10);
    raise(SIGTERM);  // dies here, through the restoring handler
    _exit(11);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_EQ(Mode().c_lflag, before.c_lflag);
}

TEST_F(PtyTest, SizeAndNotATerminal) {
  winsize ws{};
  ws.ws_row = 33;
  ws.ws_col = 101;
  ASSERT_EQ(ioctl(master_, TIOCSWINSZ, &ws), 0);
  std::optional<TerminalSize> size = GetTerminalSize(slave_);
  ASSERT_TRUE(size.has_value());
  EXPECT_EQ(size->rows, 33u);
  EXPECT_EQ(size->cols, 101u);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_FALSE(GetTerminalSize(p[0]).has_value());
  EXPECT_EQ(RawTerminal::Enter(p[0]).status().code(), absl::StatusCode::kFailedPrecondition);
  close(p[0]);
  close(p[1]);
}

TEST(WinchPipeTest, SigwinchBecomesReadable) {
  absl::StatusOr<std::unique_ptr<WinchPipe>> w = WinchPipe::Create();
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE((*w)->Drain());
  raise(SIGWINCH);
  EXPECT_TRUE((*w)->Drain());
  EXPECT_FALSE((*w)->Drain());
}

}  // namespace
}  // namespace ktstr::client
