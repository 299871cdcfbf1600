// AgentServer in-process with a capturing sink: error replies for every kind of bad request,
// PutFile checksum handling, and RunTest's scheduler seam with a fake starter (the real
// supervisor lives in guest_agent/sched/).
#include "guest_agent/agent_server.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace ktstr::agent {
namespace {

class CaptureSink : public MessageSink {
 public:
  void Send(const v1::GuestToHost& msg) override {
    absl::MutexLock lock(&mu_);
    msgs_.push_back(msg);
  }
  // Waits for a message for `id` that is not Output.
  v1::GuestToHost WaitFinal(uint64_t id, absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    auto has = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const auto& m : msgs_)
        if (m.request_id() == id && !m.has_output()) return true;
      return false;
    };
    mu_.AwaitWithTimeout(absl::Condition(&has), timeout);
    for (const auto& m : msgs_)
      if (m.request_id() == id && !m.has_output()) return m;
    return v1::GuestToHost();
  }
  std::vector<v1::GuestToHost> All() {
    absl::MutexLock lock(&mu_);
    return msgs_;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::GuestToHost> msgs_ ABSL_GUARDED_BY(mu_);
};

class FakeScheduler : public SchedulerHandle {
 public:
  FakeScheduler(pid_t pid, v1::SchedulerState state, bool* stopped)
      : pid_(pid), state_(state), stopped_(stopped) {}
  pid_t pid() const override { return pid_; }
  v1::SchedulerReport report() const override {
    v1::SchedulerReport r;
    r.set_state(state_);
    return r;
  }
  v1::SchedulerReport Stop() override {
    *stopped_ = true;
    v1::SchedulerReport r = report();
    r.set_ops_name("fake_ops");
    return r;
  }

 private:
  pid_t pid_;
  v1::SchedulerState state_;
  bool* stopped_;
};

class FakeStarter : public SchedulerStarter {
 public:
  absl::StatusOr<std::unique_ptr<SchedulerHandle>> Start(const v1::SchedulerLaunch& launch) override {
    started_name = launch.name();
    return std::make_unique<FakeScheduler>(4242, state, &stopped);
  }
  v1::SchedulerState state = v1::SCHEDULER_STATE_RAN;
  std::string started_name;
  bool stopped = false;
};

class AgentServerTest : public ::testing::Test {
 protected:
  AgentServerTest() {
    AgentServerOptions o;
    o.allow_set_time = false;
    o.allow_kernel_log = false;
    o.scheduler_starter = &starter_;
    server_ = std::make_unique<AgentServer>(o, &sink_);
    dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/server");
  }
  void Send(const v1::HostToGuest& m) { server_->OnBytes(EncodeMessage(m)); }

  CaptureSink sink_;
  FakeStarter starter_;
  std::unique_ptr<AgentServer> server_;
  std::string dir_;
};

TEST_F(AgentServerTest, UnknownKindBadMessageAndUnknownTargetGetTypedErrors) {
  v1::HostToGuest empty;
  empty.set_request_id(11);
  Send(empty);
  EXPECT_EQ(sink_.WaitFinal(11).error().code(), v1::ERROR_CODE_UNKNOWN_REQUEST);

  v1::HostToGuest no_argv;
  no_argv.set_request_id(12);
  no_argv.mutable_exec();
  Send(no_argv);
  EXPECT_EQ(sink_.WaitFinal(12).error().code(), v1::ERROR_CODE_BAD_MESSAGE);

  v1::HostToGuest cancel;
  cancel.set_request_id(13);
  cancel.mutable_cancel()->set_target_request_id(999);
  Send(cancel);
  EXPECT_EQ(sink_.WaitFinal(13).error().code(), v1::ERROR_CODE_UNKNOWN_REQUEST);

  server_->OnBytes(EncodeFrame("\xff\xff\xff"));  // not a protobuf
  EXPECT_EQ(sink_.WaitFinal(0).error().code(), v1::ERROR_CODE_BAD_MESSAGE);

  v1::HostToGuest set_time;
  set_time.set_request_id(14);
  set_time.mutable_set_time()->set_unix_ns(1);
  Send(set_time);  // refused: this server must not touch the host clock
  EXPECT_EQ(sink_.WaitFinal(14).error().code(), v1::ERROR_CODE_IO);
}

TEST_F(AgentServerTest, PutFileChecksumMismatchAndOutOfOrderChunks) {
  v1::HostToGuest put;
  put.set_request_id(21);
  auto* p = put.mutable_put_file();
  p->set_path(dir_ + "/f");
  p->set_data("hello");
  p->set_last(true);
  p->set_total_size(5);
  p->set_crc32c(Crc32c("hellO"));
  Send(put);
  v1::GuestToHost r = sink_.WaitFinal(21);
  EXPECT_EQ(r.error().code(), v1::ERROR_CODE_CHECKSUM) << r.DebugString();
  EXPECT_NE(::access((dir_ + "/f").c_str(), F_OK), 0);

  v1::HostToGuest late;
  late.set_request_id(22);
  late.mutable_put_file()->set_path(dir_ + "/g");
  late.mutable_put_file()->set_offset(100);
  late.mutable_put_file()->set_data("x");
  Send(late);
  EXPECT_EQ(sink_.WaitFinal(22).error().code(), v1::ERROR_CODE_BAD_MESSAGE);

  // Two chunks in order succeed.
  v1::HostToGuest c1;
  c1.set_request_id(23);
  c1.mutable_put_file()->set_path(dir_ + "/h");
  c1.mutable_put_file()->set_data("ab");
  Send(c1);
  v1::HostToGuest c2 = c1;
  c2.mutable_put_file()->set_offset(2);
  c2.mutable_put_file()->set_data("cd");
  c2.mutable_put_file()->set_last(true);
  c2.mutable_put_file()->set_total_size(4);
  c2.mutable_put_file()->set_crc32c(Crc32c("abcd"));
  Send(c2);
  EXPECT_EQ(sink_.WaitFinal(23).put_file_done().size(), 4u);
  std::ifstream in(dir_ + "/h");
  std::string got;
  in >> got;
  EXPECT_EQ(got, "abcd");
}

TEST_F(AgentServerTest, RunTestStartsTheSchedulerFirstAndStopsItAfter) {
  v1::HostToGuest run;
  run.set_request_id(31);
  auto* r = run.mutable_run_test();
  r->set_binary_path(std::string(::getcwd(nullptr, 0)) + "/guest_agent/fake_ktstr_test");
  r->set_test_name("pass");
  r->mutable_scheduler()->set_name("scx_fake");
  r->mutable_scheduler()->set_binary_path("/bin/true");
  Send(run);
  v1::GuestToHost res = sink_.WaitFinal(31);
  ASSERT_TRUE(res.has_test_result()) << res.DebugString();
  EXPECT_EQ(starter_.started_name, "scx_fake");
  EXPECT_TRUE(starter_.stopped);
  EXPECT_EQ(res.test_result().scheduler().state(), v1::SCHEDULER_STATE_RAN);
  EXPECT_EQ(res.test_result().scheduler().ops_name(), "fake_ops");
  // The test binary saw the scheduler's pid.
  EXPECT_EQ(res.test_result().report().stats_text(), "SCHED_PID=4242");
}

TEST_F(AgentServerTest, RunTestDoesNotRunTheTestWhenTheSchedulerDidNotAttach) {
  starter_.state = v1::SCHEDULER_STATE_NOT_ATTACHED;
  v1::HostToGuest run;
  run.set_request_id(32);
  run.mutable_run_test()->set_binary_path(std::string(::getcwd(nullptr, 0)) + "/guest_agent/fake_ktstr_test");
  run.mutable_run_test()->set_test_name("pass");
  run.mutable_run_test()->mutable_scheduler()->set_binary_path("/bin/true");
  Send(run);
  v1::GuestToHost res = sink_.WaitFinal(32);
  ASSERT_TRUE(res.has_test_result());
  EXPECT_EQ(res.test_result().scheduler().state(), v1::SCHEDULER_STATE_NOT_ATTACHED);
  EXPECT_FALSE(res.test_result().has_report());
  EXPECT_FALSE(res.test_result().has_process());
  EXPECT_NE(res.test_result().error().find("did not attach"), std::string::npos);
  EXPECT_TRUE(starter_.stopped);
}

TEST_F(AgentServerTest, CancelEndsARunningExec) {
  v1::HostToGuest exec;
  exec.set_request_id(41);
  exec.mutable_exec()->add_argv("sleep");
  exec.mutable_exec()->add_argv("60");
  Send(exec);
  absl::SleepFor(absl::Milliseconds(200));
  v1::HostToGuest cancel;
  cancel.set_request_id(42);
  cancel.mutable_cancel()->set_target_request_id(41);
  Send(cancel);
  EXPECT_TRUE(sink_.WaitFinal(42).has_ack());
  v1::GuestToHost done = sink_.WaitFinal(41);
  EXPECT_TRUE(done.exec_exit().cancelled()) << done.DebugString();
  EXPECT_EQ(done.exec_exit().signal(), 9);
  // The job thread marks itself done right after sending ExecExit.
  size_t running = 1;
  for (int i = 0; i < 200 && (running = server_->running_jobs()) != 0; ++i)
    absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(running, 0u);
}

}  // namespace
}  // namespace ktstr::agent
