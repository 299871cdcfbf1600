// The real agent binary, run with --no-pid1 as an ordinary process, driven by the real
// AgentClient over a real unix socket: every request kind, bad input, concurrency.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "guest_agent/agent_client.h"
#include "gtest/gtest.h"

namespace ktstr::agent {
namespace {

absl::Time In(absl::Duration d) { return absl::Now() + d; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Listens on a short /tmp path, starts the agent binary pointed at it, accepts.
class AgentHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sock_path_ = absl::StrCat("/tmp/ktstr_agent_", ::getpid());
    scratch_ = sock_path_ + "_d";
    ::unlink(sock_path_.c_str());
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path_.c_str());
    ASSERT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ASSERT_EQ(::listen(listen_fd_, 1), 0);
    agent_pid_ = ::fork();
    ASSERT_GE(agent_pid_, 0);
    if (agent_pid_ == 0) {
      std::string chan = "--channel=unix:" + sock_path_;
      ::execl("guest_agent/ktstr-agent", "ktstr-agent", "--no-pid1", chan.c_str(), nullptr);
      ::_exit(127);
    }
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(fd, 0);
    auto c = AgentClient::FromFd(fd, In(absl::Seconds(10)));
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
  }

  void TearDown() override {
    client_.reset();  // closing the socket makes the agent exit
    if (agent_pid_ > 0) {
      int status = 0;
      for (int i = 0; i < 100 && ::waitpid(agent_pid_, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (::kill(agent_pid_, 0) == 0) {
        ADD_FAILURE() << "agent did not exit when the host closed the channel";
        ::kill(agent_pid_, SIGKILL);
        ::waitpid(agent_pid_, nullptr, 0);
      }
    }
    ::close(listen_fd_);
    ::unlink(sock_path_.c_str());
    std::string rm = "rm -rf " + scratch_;
    (void)std::system(rm.c_str());
  }

  v1::Exec Sh(const std::string& script, uint32_t timeout_ms = 0) {
    v1::Exec e;
    e.add_argv("sh");
    e.add_argv("-c");
    e.add_argv(script);
    e.set_timeout_ms(timeout_ms);
    return e;
  }

  std::string sock_path_, scratch_;
  int listen_fd_ = -1;
  pid_t agent_pid_ = -1;
  std::unique_ptr<AgentClient> client_;
};

TEST_F(AgentHostTest, HelloReportsKernelAndTopology) {
  auto r = client_->Hello(v1::Hello(), In(absl::Seconds(10)));
  ASSERT_TRUE(r.ok()) << r.status();
  struct utsname u;
  ::uname(&u);
  EXPECT_EQ(r->kernel_release(), u.release);
  EXPECT_EQ(r->topology().cpus(), static_cast<uint32_t>(::sysconf(_SC_NPROCESSORS_ONLN)));
  EXPECT_EQ(r->topology().cpu_size(), static_cast<int>(r->topology().cpus()));
  EXPECT_GE(r->topology().llcs(), 1u);
  EXPECT_GT(r->topology().memory_kb(), 0u);
  EXPECT_NE(r->sched_ext(), v1::SCHED_EXT_STATE_UNSPECIFIED);
  EXPECT_FALSE(r->agent_version().empty());
}

TEST_F(AgentHostTest, PutFileCreatesParentsSetsModeAndChecksContent) {
  std::string data;
  for (int i = 0; i < 3 * 1024 * 1024 + 17; ++i) data.push_back(static_cast<char>(i * 31));
  const std::string path = scratch_ + "/a/b/blob";
  auto done = client_->PutBytes(data, path, 0750, In(absl::Seconds(30)));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->size(), data.size());
  EXPECT_EQ(ReadFile(path), data);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_NE(::access((path + ".ktstr-part").c_str(), F_OK), 0);
}

TEST_F(AgentHostTest, PutFileWithWrongChecksumFailsAndLeavesNoFile) {
  const std::string path = scratch_ + "/bad";
  v1::HostToGuest req;
  req.set_request_id(900);
  auto* p = req.mutable_put_file();
  p->set_path(path);
  p->set_data("abc");
  p->set_last(true);
  p->set_total_size(3);
  p->set_crc32c(Crc32c("abd"));
  ASSERT_TRUE(client_->SendRaw(EncodeMessage(req), In(absl::Seconds(5))).ok());
  // The error reply goes to request 900, which the client does not know; prove the agent
  // survived and removed both the file and its partial.
  ASSERT_TRUE(client_->Ping(In(absl::Seconds(5))).ok());
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
  EXPECT_NE(::access((path + ".ktstr-part").c_str(), F_OK), 0);
}

TEST_F(AgentHostTest, ExecStreamsOutputBeforeExitAndReportsExitCode) {
  std::vector<std::pair<v1::Output::Stream, std::string>> chunks;
  std::vector<absl::Time> when;
  absl::Time start = absl::Now();
  auto exit = client_->Exec(Sh("echo first; sleep 1; echo second >&2; exit 7"),
                            [&](v1::Output::Stream s, absl::string_view d) {
                              chunks.emplace_back(s, std::string(d));
                              when.push_back(absl::Now());
                            },
                            In(absl::Seconds(30)));
  absl::Time end = absl::Now();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code(), 7);
  EXPECT_EQ(exit->signal(), 0);
  EXPECT_FALSE(exit->timed_out());
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].first, v1::Output::STREAM_STDOUT);
  EXPECT_EQ(chunks[0].second, "first\n");
  EXPECT_EQ(chunks[1].first, v1::Output::STREAM_STDERR);
  EXPECT_EQ(chunks[1].second, "second\n");
  // Streamed: the first line arrived while the script was still sleeping.
  EXPECT_LT(when[0] - start, end - start - absl::Milliseconds(500));
}

TEST_F(AgentHostTest, LargeOutputArrivesCompleteAndInOrder) {
  // 20 MB of numbered lines on stdout: every byte arrives, in order, across many frames.
  std::string out;
  size_t chunks = 0;
  auto r = client_->Exec(Sh("seq 1 2500000"),
                         [&](v1::Output::Stream s, absl::string_view d) {
                           EXPECT_EQ(s, v1::Output::STREAM_STDOUT);
                           out.append(d.data(), d.size());
                           ++chunks;
                         },
                         In(absl::Seconds(60)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0);
  std::string want;
  want.reserve(out.size());
  for (int i = 1; i <= 2500000; ++i) absl::StrAppend(&want, i, "\n");
  EXPECT_EQ(out.size(), want.size());
  EXPECT_TRUE(out == want);
  EXPECT_GT(chunks, 100u);
}

TEST_F(AgentHostTest, ExecReportsSignalAndEnvAndCwd) {
  auto sig = client_->Exec(Sh("kill -TERM $$"), nullptr, In(absl::Seconds(10)));
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(sig->exit_code(), -1);
  EXPECT_EQ(sig->signal(), SIGTERM);

  v1::Exec e = Sh("printf '%s %s' \"$KTSTR_X\" \"$(pwd)\"");
  (*e.mutable_env())["KTSTR_X"] = "hello";
  e.set_cwd("/tmp");
  std::string out;
  auto r = client_->Exec(e, [&](v1::Output::Stream, absl::string_view d) { out.append(d.data(), d.size()); },
                         In(absl::Seconds(10)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(out, "hello /tmp");
}

TEST_F(AgentHostTest, ExecOfMissingProgramIsAnError) {
  v1::Exec e;
  e.add_argv("/nonexistent/ktstr-no-such-binary");
  auto r = client_->Exec(e, nullptr, In(absl::Seconds(10)));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no-such-binary"), absl::string_view::npos) << r.status();
}

TEST_F(AgentHostTest, ExecTimeoutKillsTheWholeGroup) {
  const std::string pidfile = scratch_ + "_child.pid";
  absl::Time start = absl::Now();
  auto r = client_->Exec(Sh(absl::StrCat("sleep 60 & echo $! > ", pidfile, "; wait"), 500), nullptr,
                         In(absl::Seconds(30)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out());
  EXPECT_EQ(r->signal(), SIGKILL);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  pid_t child = std::atoi(ReadFile(pidfile).c_str());
  ASSERT_GT(child, 0);
  // The background sleep was in the group: it must be gone (or a zombie being reaped).
  bool gone = false;
  for (int i = 0; i < 40 && !gone; ++i) {
    std::string stat = ReadFile(absl::StrCat("/proc/", child, "/stat"));
    gone = stat.empty() || stat.find(") Z") != std::string::npos;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << "sleep " << child << " survived the timeout";
  ::unlink(pidfile.c_str());
}

TEST_F(AgentHostTest, ClientDeadlineCancelsTheGuestProcess) {
  const std::string pidfile = scratch_ + "_cancel.pid";
  auto r = client_->Exec(Sh(absl::StrCat("echo $$ > ", pidfile, "; exec sleep 60")), nullptr,
                         In(absl::Milliseconds(800)));
  ASSERT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  pid_t pid = std::atoi(ReadFile(pidfile).c_str());
  ASSERT_GT(pid, 0);
  bool gone = false;
  for (int i = 0; i < 60 && !gone; ++i) {
    gone = ::kill(pid, 0) != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << "cancelled process " << pid << " still runs";
  ::unlink(pidfile.c_str());
}

TEST_F(AgentHostTest, MalformedInputIsRejectedAndServingContinues) {
  ASSERT_TRUE(client_->SendRaw("this is not a frame at all", In(absl::Seconds(5))).ok());
  std::string bad_crc = EncodeFrame("xyz");
  bad_crc[8] ^= 0x55;
  ASSERT_TRUE(client_->SendRaw(bad_crc, In(absl::Seconds(5))).ok());
  ASSERT_TRUE(client_->SendRaw(EncodeFrame("\xff\xff\xff\xff not protobuf"), In(absl::Seconds(5))).ok());
  std::string huge = EncodeFrame("");
  huge[7] = '\x7f';  // declared length ~2 GiB
  ASSERT_TRUE(client_->SendRaw(huge, In(absl::Seconds(5))).ok());
  auto hello = client_->Hello(v1::Hello(), In(absl::Seconds(10)));
  ASSERT_TRUE(hello.ok()) << hello.status();
  auto errors = client_->TakeUnsolicitedErrors();
  bool bad_frame = false, bad_message = false;
  for (const auto& e : errors) {
    bad_frame |= e.code() == v1::ERROR_CODE_BAD_FRAME;
    bad_message |= e.code() == v1::ERROR_CODE_BAD_MESSAGE;
  }
  EXPECT_TRUE(bad_frame);
  EXPECT_TRUE(bad_message);
}

TEST_F(AgentHostTest, ConcurrentRequestsDoNotWaitForEachOther) {
  std::atomic<bool> slow_done{false};
  std::thread slow([&] {
    auto r = client_->Exec(Sh("for i in 1 2 3 4 5 6 7 8 9 10; do echo tick; sleep 0.2; done"),
                           [](v1::Output::Stream, absl::string_view) {}, In(absl::Seconds(30)));
    EXPECT_TRUE(r.ok()) << r.status();
    slow_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (int i = 0; i < 5; ++i) {
    std::string out;
    auto r = client_->Exec(Sh("echo quick"), [&](v1::Output::Stream, absl::string_view d) { out.append(d.data(), d.size()); },
                           In(absl::Seconds(10)));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(out, "quick\n");
    ASSERT_TRUE(client_->Ping(In(absl::Seconds(5))).ok());
  }
  EXPECT_FALSE(slow_done) << "the quick requests waited for the slow one";
  slow.join();
  EXPECT_TRUE(slow_done);
}

TEST_F(AgentHostTest, RunTestReturnsTheReportAndProcessOutcome) {
  v1::RunTest run;
  run.set_binary_path(std::string(::getcwd(nullptr, 0)) + "/guest_agent/fake_ktstr_test");
  run.set_test_name("pass");
  run.set_duration_s(3);
  std::string out;
  auto r = client_->RunTest(run, [&](v1::Output::Stream, absl::string_view d) { out.append(d.data(), d.size()); },
                            In(absl::Seconds(30)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->error().empty()) << r->error();
  EXPECT_EQ(r->report().test_name(), "pass");
  EXPECT_EQ(r->report().outcome(), ktstr::v1::TEST_OUTCOME_PASS);
  EXPECT_EQ(r->process().exit_code(), 0);
  EXPECT_EQ(r->scheduler().state(), v1::SCHEDULER_STATE_NONE);
  EXPECT_NE(out.find("running pass for 3s"), std::string::npos) << out;

  run.set_test_name("fail");
  r = client_->RunTest(run, nullptr, In(absl::Seconds(30)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->report().outcome(), ktstr::v1::TEST_OUTCOME_FAIL);
  EXPECT_EQ(r->process().exit_code(), 1);

  run.set_test_name("noreport");
  r = client_->RunTest(run, nullptr, In(absl::Seconds(30)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->has_report());
  EXPECT_NE(r->error().find("no report"), std::string::npos) << r->error();

  run.set_test_name("hang");
  run.set_timeout_ms(500);
  r = client_->RunTest(run, nullptr, In(absl::Seconds(30)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->process().timed_out());
}

TEST_F(AgentHostTest, StdinIsFedToTheProcessAndEofEndsIt) {
  v1::Exec e;
  e.add_argv("tr");
  e.add_argv("a-z");
  e.add_argv("A-Z");
  e.set_stdin_open(true);
  std::string out;
  std::thread feeder;
  auto r = client_->Exec(
      e, [&](v1::Output::Stream, absl::string_view d) { out.append(d.data(), d.size()); },
      In(absl::Seconds(20)), [&](uint64_t id) {
        feeder = std::thread([this, id] {
          EXPECT_TRUE(client_->SendStdin(id, "hello ", false, In(absl::Seconds(5))).ok());
          EXPECT_TRUE(client_->SendStdin(id, "stdin\n", true, In(absl::Seconds(5))).ok());
        });
      });
  feeder.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0);
  EXPECT_EQ(out, "HELLO STDIN\n");
}

TEST_F(AgentHostTest, PtyExecHasATerminalOfTheRequestedSizeAndResizes) {
  v1::Exec e;
  e.add_argv("sh");
  e.set_pty(true);
  e.set_pty_rows(33);
  e.set_pty_cols(101);
  absl::Mutex mu;
  std::string out;
  std::thread typist;
  auto r = client_->Exec(
      e,
      [&](v1::Output::Stream s, absl::string_view d) {
        absl::MutexLock lock(&mu);
        EXPECT_EQ(s, v1::Output::STREAM_STDOUT);
        out.append(d.data(), d.size());
      },
      In(absl::Seconds(30)), [&](uint64_t id) {
        typist = std::thread([this, id, &mu, &out] {
          auto wait_for = [&](const std::string& what) {
            for (int i = 0; i < 200; ++i) {
              {
                absl::MutexLock lock(&mu);
                if (out.find(what) != std::string::npos) return true;
              }
              absl::SleepFor(absl::Milliseconds(25));
            }
            return false;
          };
          EXPECT_TRUE(client_->SendStdin(id, "tty; stty size; echo mark1\n", false, In(absl::Seconds(5))).ok());
          EXPECT_TRUE(wait_for("\nmark1"));
          EXPECT_TRUE(client_->ResizePty(id, 40, 120, In(absl::Seconds(5))).ok());
          EXPECT_TRUE(client_->SendStdin(id, "stty size; exit 3\n", false, In(absl::Seconds(5))).ok());
        });
      });
  typist.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 3);
  EXPECT_NE(out.find("/dev/pts/"), std::string::npos) << out;
  EXPECT_NE(out.find("33 101"), std::string::npos) << out;
  EXPECT_NE(out.find("40 120"), std::string::npos) << out;
}

TEST_F(AgentHostTest, ShutdownAcksAndTheAgentExits) {
  ASSERT_TRUE(client_->Shutdown(false, In(absl::Seconds(10))).ok());
  int status = -1;
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(agent_pid_, &status, WNOHANG) == agent_pid_) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  agent_pid_ = -1;
}

}  // namespace
}  // namespace ktstr::agent
