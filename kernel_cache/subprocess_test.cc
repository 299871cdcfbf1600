#include "kernel_cache/subprocess.h"

#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "kernel_cache/fs_util.h"
#include "kernel_cache/testing/test_files.h"

namespace ktstr::kcache {
namespace {

TEST(SubprocessTest, CapturesOutputLinesAndExitCode) {
  std::vector<std::string> lines;
  CommandOptions o;
  o.on_line = [&](absl::string_view l) { lines.emplace_back(l); };
  absl::StatusOr<CommandResult> r = RunCommand({"sh", "-c", "echo one; echo two >&2; exit 3"}, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(r->output_tail, "one\ntwo\n");
  absl::StatusOr<CommandResult> bad = RunCommandOk({"sh", "-c", "echo why; exit 1"});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "why"));
}

TEST(SubprocessTest, MissingProgramIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(RunCommand({"/nonexistent/ktstr-tool"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(RunCommand({}).status()));
}

TEST(SubprocessTest, CwdEnvStdinStdoutAndLog) {
  std::string d = testing::NewTempDir();
  testing::WriteFile(d + "/in", "from-stdin\n");
  CommandOptions o;
  o.cwd = d;
  o.env = {{"KTSTR_X", "42"}};
  o.stdin_path = d + "/in";
  o.stdout_path = d + "/out";
  ASSERT_TRUE(RunCommandOk({"sh", "-c", "cat; echo $KTSTR_X; pwd"}, o).ok());
  EXPECT_EQ(*ReadFileToString(d + "/out"), "from-stdin\n42\n" + d + "\n");
  CommandOptions l;
  l.log_path = d + "/log";
  ASSERT_TRUE(RunCommandOk({"echo", "logged"}, l).ok());
  ASSERT_TRUE(RunCommandOk({"echo", "appended"}, l).ok());
  EXPECT_EQ(*ReadFileToString(d + "/log"), "logged\nappended\n");
}

TEST(SubprocessTest, TimeoutKillsTheWholeProcessGroup) {
  std::string d = testing::NewTempDir();
  CommandOptions o;
  o.timeout = absl::Milliseconds(300);
  // The grandchild records its pid, then both would outlive the timeout by far.
  absl::StatusOr<CommandResult> r =
      RunCommand({"sh", "-c", "sleep 30 & echo $! > " + d + "/gc; wait"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  std::string gc = std::string(absl::StripAsciiWhitespace(*ReadFileToString(d + "/gc")));
  pid_t pid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(gc, &pid));
  // The grandchild was killed with its group (it may linger as a zombie of init briefly).
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    absl::StatusOr<std::string> stat = ReadFileToString("/proc/" + gc + "/stat");
    gone = !stat.ok() || absl::StrContains(*stat, ") Z ");
    if (!gone) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(gone);
  EXPECT_TRUE(absl::IsDeadlineExceeded(RunCommandOk({"sleep", "5"}, o).status()));
}

}  // namespace
}  // namespace ktstr::kcache
