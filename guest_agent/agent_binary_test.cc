// The agent binary's command line and its host-gone behaviour, run as real processes.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <variant>

#include "absl/time/clock.h"
#include "guest_agent/wire.h"
#include "gtest/gtest.h"

namespace ktstr::agent {
namespace {

// A character-device channel (a pty standing in for the virtio port, which reads 0 / fails
// while no host is connected): after the host went away for --host-gone-s the agent ends.
TEST(AgentBinaryTest, HostGoneEndsTheAgent) {
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  struct termios raw;
  ASSERT_EQ(::tcgetattr(master, &raw), 0);
  ::cfmakeraw(&raw);
  ASSERT_EQ(::tcsetattr(master, TCSANOW, &raw), 0);
  std::string chan = std::string("--channel=dev:") + ::ptsname(master);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl("guest_agent/ktstr-agent", "ktstr-agent", "--no-pid1", chan.c_str(), "--host-gone-s=1",
            nullptr);
    ::_exit(127);
  }
  // A Ping makes the agent see a host; its Pong proves the channel works.
  v1::HostToGuest ping;
  ping.set_request_id(1);
  ping.mutable_ping()->set_seq(5);
  std::string frame = EncodeMessage(ping);
  FrameDecoder decoder;
  v1::GuestToHost pong;
  for (int i = 0; i < 100 && !pong.has_pong(); ++i) {
    if (i % 10 == 0) {
      ASSERT_EQ(::write(master, frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
    }
    struct pollfd p = {master, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) continue;
    decoder.Feed(absl::string_view(buf, static_cast<size_t>(n)));
    for (auto item = decoder.Next(); !std::holds_alternative<std::monostate>(item); item = decoder.Next())
      if (auto* payload = std::get_if<std::string>(&item)) pong.ParseFromString(*payload);
  }
  EXPECT_EQ(pong.pong().seq(), 5u);
  ::close(master);  // the host goes away
  absl::Time gone = absl::Now();
  int status = -1;
  while (absl::Now() - gone < absl::Seconds(15) && ::waitpid(pid, &status, WNOHANG) == 0)
    absl::SleepFor(absl::Milliseconds(50));
  if (::kill(pid, 0) == 0 && ::waitpid(pid, &status, WNOHANG) == 0) {
    ADD_FAILURE() << "the agent outlived its host";
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return;
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_GE(absl::Now() - gone, absl::Milliseconds(900));
}

TEST(AgentBinaryTest, HelpAndBadArguments) {
  FILE* p = ::popen("guest_agent/ktstr-agent --help", "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = ::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0);
  EXPECT_NE(out.find("--channel=SPEC"), std::string::npos) << out;
  EXPECT_NE(out.find("KTSTR_AGENT_READY"), std::string::npos) << out;
  EXPECT_NE(std::system("guest_agent/ktstr-agent --bogus 2>/dev/null"), 0);
  EXPECT_NE(std::system("guest_agent/ktstr-agent --no-pid1 --channel=tcp:1 2>/dev/null"), 0);
  // No listener: a clear failure, not a hang.
  EXPECT_NE(std::system("guest_agent/ktstr-agent --no-pid1 --channel=unix:/nonexistent/s 2>/dev/null"), 0);
}

}  // namespace
}  // namespace ktstr::agent
