// SchedulerSupervisor against real processes: small sh scripts play the loader. They drive a
// fake /sys/kernel/sched_ext directory and append the kernel's exact sched_ext lines to a file
// that stands in for /dev/kmsg (a host test cannot load a real scheduler; the in-VM test does).
#include "guest_agent/sched/scheduler_supervisor.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "guest_agent/sched/testing/file_kernel_log.h"
#include "gtest/gtest.h"

namespace ktstr::agent {
namespace {

namespace fs = std::filesystem;
using v1::SchedulerReport;

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = fs::path(tmp ? tmp : "/tmp") /
           absl::StrCat("sup_", ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                        "_", getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "sys" / "root");
    fs::remove(dir_ / "sys" / "root");  // root/ exists only while a scheduler is loaded
    fs::create_directories(dir_ / "proc");
    Write("sys/state", "disabled\n");
    Write("sys/enable_seq", "0\n");
    Write("kmsg", "");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(dir_ / rel) << text;
  }
  std::string Read(const std::string& rel) {
    std::ifstream in(dir_ / rel);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // Shell snippets a fake loader uses; $D is the test directory.
  static constexpr char kAttach[] =
      "mkdir -p $D/sys/root; echo scx_fifo > $D/sys/root/ops; echo 1 > $D/sys/enable_seq; "
      "echo enabled > $D/sys/state; "
      "echo 'sched_ext: BPF scheduler \"scx_fifo\" enabled' >> $D/kmsg; ";
  static constexpr char kDetach[] =
      "echo disabled > $D/sys/state; rm -rf $D/sys/root; ";
  static constexpr char kUnregLine[] =
      "echo 'sched_ext: BPF scheduler \"scx_fifo\" disabled (unregistered from user space)' "
      ">> $D/kmsg; ";
  // Until SIGINT: a well-behaved loader detaches and exits 0.
  static constexpr char kRunUntilSigint[] =
      "trap 'echo disabled > $D/sys/state; rm -rf $D/sys/root; "
      "echo \"sched_ext: BPF scheduler \\\"scx_fifo\\\" disabled (unregistered from user "
      "space)\" >> $D/kmsg; echo EXIT: unregistered from user space; exit 0' INT; "
      "while :; do sleep 0.02; done";

  SchedulerLaunchSpec Spec(const std::string& script) {
    SchedulerLaunchSpec spec;
    spec.name = "scx_fifo";
    spec.binary_path = "/bin/sh";
    spec.args = {"-c", absl::StrReplaceAll(script, {{"$D", dir_.string()}})};
    spec.attach_timeout = absl::Seconds(20);
    spec.expected_ops_name = "scx_fifo";
    spec.log_path = (dir_ / "sched.log").string();
    return spec;
  }
  SupervisorEnv Env() {
    SupervisorEnv env;
    env.sysfs_root = (dir_ / "sys").string();
    env.proc_sys_root = (dir_ / "proc").string();
    env.kernel_log = std::make_unique<testing::FileKernelLog>((dir_ / "kmsg").string());
    env.stop_grace = absl::Seconds(5);
    env.disable_confirm = absl::Seconds(5);
    env.eject_drain = absl::Seconds(5);
    return env;
  }
  // Polls Alive() until it turns false (the fake loader's own timing decides when).
  static bool WaitNotAlive(SchedulerSupervisor& sup, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (!sup.Alive()) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  fs::path dir_;
};

TEST_F(SupervisorTest, AttachesRunsAndStopsCleanly) {
  auto sup = SchedulerSupervisor::Start(Spec(absl::StrCat(kAttach, kRunUntilSigint)), Env());
  ASSERT_TRUE(sup.ok()) << sup.status();
  SchedulerReport r = (*sup)->report();
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_RAN);
  EXPECT_EQ(r.ops_name(), "scx_fifo");
  EXPECT_GT(r.attach_s(), 0.0);
  EXPECT_GT((*sup)->pid(), 0);
  EXPECT_TRUE((*sup)->Alive());

  r = (*sup)->Stop();
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_RAN);
  EXPECT_EQ(r.exit_kind(), ktstr::v1::SCHED_EXIT_KIND_UNREGISTERED);
  EXPECT_EQ(r.exit_kind_text(), "unregistered from user space");
  EXPECT_EQ(r.exit_code(), 0);
  EXPECT_EQ(r.signal(), 0);
  EXPECT_EQ(Read("sys/state"), "disabled\n");
  EXPECT_NE(r.log().find("EXIT: unregistered from user space"), std::string::npos) << r.log();
  // The loader is gone and reaped: its pid no longer exists as our child.
  EXPECT_EQ(kill((*sup)->pid(), 0), -1);
  EXPECT_EQ((*sup)->Stop().state(), v1::SCHEDULER_STATE_RAN);  // idempotent
}

TEST_F(SupervisorTest, LoaderThatExitsBeforeAttachingDied) {
  auto sup = SchedulerSupervisor::Start(Spec("echo loader says goodbye; exit 3"), Env());
  ASSERT_TRUE(sup.ok()) << sup.status();
  SchedulerReport r = (*sup)->report();
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_DIED);
  EXPECT_EQ(r.exit_code(), 3);
  EXPECT_NE(r.exit_detail().find("status 3"), std::string::npos) << r.exit_detail();
  EXPECT_NE(r.log().find("loader says goodbye"), std::string::npos);
  EXPECT_FALSE((*sup)->Alive());
  EXPECT_EQ((*sup)->Stop().state(), v1::SCHEDULER_STATE_DIED);
}

TEST_F(SupervisorTest, MissingBinaryDiedWithTheExecError) {
  SchedulerLaunchSpec spec = Spec("");
  spec.binary_path = (dir_ / "no_such_loader").string();
  spec.args = {};
  auto sup = SchedulerSupervisor::Start(spec, Env());
  ASSERT_TRUE(sup.ok()) << sup.status();
  SchedulerReport r = (*sup)->report();
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_DIED);
  EXPECT_EQ(r.exit_code(), 127);
  EXPECT_NE(r.log().find("No such file"), std::string::npos) << r.log();
}

TEST_F(SupervisorTest, LoaderExitingDuringTheTestDied) {
  // Attached, then the loader quits on its own: the kernel only sees it unregister.
  auto sup = SchedulerSupervisor::Start(
      Spec(absl::StrCat(kAttach, "sleep 0.3; ", kDetach, kUnregLine, "exit 5")), Env());
  ASSERT_TRUE(sup.ok()) << sup.status();
  EXPECT_EQ((*sup)->report().state(), v1::SCHEDULER_STATE_RAN);
  ASSERT_TRUE(WaitNotAlive(**sup, absl::Seconds(20)));
  SchedulerReport r = (*sup)->report();
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_DIED);
  EXPECT_EQ(r.exit_code(), 5);
  EXPECT_EQ(r.exit_kind(), ktstr::v1::SCHED_EXIT_KIND_UNREGISTERED);
  EXPECT_EQ((*sup)->Stop().state(), v1::SCHEDULER_STATE_DIED);
}

TEST_F(SupervisorTest, NeverEnabledIsNotAttachedAfterTheTimeoutAndTheLoaderIsStopped) {
  SchedulerLaunchSpec spec = Spec("exec sleep 60");
  spec.attach_timeout = absl::Milliseconds(300);
  absl::Time t0 = absl::Now();
  auto sup = SchedulerSupervisor::Start(spec, Env());
  ASSERT_TRUE(sup.ok()) << sup.status();
  SchedulerReport r = (*sup)->report();
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_NOT_ATTACHED);
  EXPECT_NE(r.exit_detail().find("not enabled within 300ms"), std::string::npos)
      << r.exit_detail();
  EXPECT_EQ(r.signal(), SIGINT);  // stopped by us, not left behind
  EXPECT_LT(absl::Now() - t0, absl::Seconds(10));
}

TEST_F(SupervisorTest, WrongOpsNameIsNotAttached) {
  SchedulerLaunchSpec spec = Spec(absl::StrCat(kAttach, kRunUntilSigint));
  spec.expected_ops_name = "scx_other";
  spec.attach_timeout = absl::Milliseconds(500);
  auto sup = SchedulerSupervisor::Start(spec, Env());
  ASSERT_TRUE(sup.ok()) << sup.status();
  SchedulerReport r = (*sup)->report();
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_NOT_ATTACHED);
  EXPECT_NE(r.exit_detail().find("root/ops 'scx_fifo', want 'scx_other'"), std::string::npos)
      << r.exit_detail();
}

TEST_F(SupervisorTest, VerifierRejectIsNotAttachedWithTheVerifiersMessage) {
  Write("verifier.txt",
        "libbpf: prog 'fifo_enqueue': BPF program load failed: Permission denied\n"
        "libbpf: prog 'fifo_enqueue': -- BEGIN PROG LOAD LOG --\n"
        "3: (79) r1 = *(u64 *)(r0 +0)\n"
        "R0 invalid mem access 'scalar'\n"
        "processed 4 insns (limit 1000000) max_states_per_insn 0 total_states 0\n"
        "-- END PROG LOAD LOG --\n"
        "libbpf: failed to load object 'scx_fifo'\n");
  auto sup = SchedulerSupervisor::Start(Spec("cat $D/verifier.txt >&2; exit 1"), Env());
  ASSERT_TRUE(sup.ok()) << sup.status();
  SchedulerReport r = (*sup)->report();
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_NOT_ATTACHED);
  EXPECT_NE(r.exit_detail().find("prog 'fifo_enqueue': R0 invalid mem access 'scalar'"),
            std::string::npos)
      << r.exit_detail();
  EXPECT_EQ(r.exit_code(), 1);
}

TEST_F(SupervisorTest, NoSchedExtDirectoryIsAbsentAndStartsNothing) {
  SupervisorEnv env = Env();
  env.sysfs_root = (dir_ / "no_sched_ext").string();
  auto sup = SchedulerSupervisor::Start(Spec("touch $D/started"), std::move(env));
  ASSERT_TRUE(sup.ok()) << sup.status();
  EXPECT_EQ((*sup)->report().state(), v1::SCHEDULER_STATE_SCHED_EXT_ABSENT);
  EXPECT_EQ((*sup)->pid(), -1);
  EXPECT_FALSE((*sup)->Alive());
  EXPECT_EQ((*sup)->Stop().state(), v1::SCHEDULER_STATE_SCHED_EXT_ABSENT);
  EXPECT_FALSE(fs::exists(dir_ / "started"));
}

struct EjectCase {
  const char* what;
  std::string kernel_lines;  // appended to the fake kmsg when the kernel disables us
  ktstr::v1::SchedExitKind kind;
  std::string reason;
  std::string detail;
};

TEST_F(SupervisorTest, KernelSideExitsAreEjectedWithTheKernelsKind) {
  const std::vector<EjectCase> cases = {
      {"watchdog stall",
       "sched_ext: BPF scheduler \"scx_fifo\" disabled (runnable task stall)\n"
       "sched_ext: scx_fifo: sh[213] failed to run for 7.544s\n",
       ktstr::v1::SCHED_EXIT_KIND_STALL, "runnable task stall", "sh[213] failed to run for 7.544s"},
      {"RCU stall form",
       "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n"
       "sched_ext: BPF scheduler \"scx_fifo\" disabled (runtime error)\n"
       "sched_ext: scx_fifo: RCU CPU stall on CPUs ()\n",
       ktstr::v1::SCHED_EXIT_KIND_STALL, "runtime error", "RCU CPU stall on CPUs ()"},
      {"scx_bpf_error",
       "sched_ext: BPF scheduler \"scx_fifo\" disabled (scx_bpf_error)\n"
       "sched_ext: scx_fifo: scx_fifo: --error-after 100 inserts reached\n",
       ktstr::v1::SCHED_EXIT_KIND_SCX_BPF_ERROR, "scx_bpf_error",
       "scx_fifo: --error-after 100 inserts reached"},
      {"sysrq-S", "sched_ext: BPF scheduler \"scx_fifo\" disabled (disabled by sysrq-S)\n",
       ktstr::v1::SCHED_EXIT_KIND_SYSRQ, "disabled by sysrq-S", ""},
  };
  for (const EjectCase& c : cases) {
    SCOPED_TRACE(c.what);
    Write("sys/state", "disabled\n");
    Write("sys/enable_seq", "0\n");
    Write("kmsg", "");
    Write("eject.txt", c.kernel_lines);
    // Attached; after a while the "kernel" disables it, the loader prints its dump and exits 0.
    auto sup = SchedulerSupervisor::Start(
        Spec(absl::StrCat(kAttach, "sleep 0.3; ", kDetach,
                          "cat $D/eject.txt >> $D/kmsg; sleep 0.1; "
                          "echo; echo DEBUG DUMP; echo 'CPU states'; echo 'EXIT: whatever'; "
                          "exit 0")),
        Env());
    ASSERT_TRUE(sup.ok()) << sup.status();
    ASSERT_EQ((*sup)->report().state(), v1::SCHEDULER_STATE_RAN);
    ASSERT_TRUE(WaitNotAlive(**sup, absl::Seconds(20)));
    SchedulerReport r = (*sup)->report();
    EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_EJECTED);
    EXPECT_EQ(r.exit_kind(), c.kind) << ktstr::v1::SchedExitKind_Name(r.exit_kind());
    EXPECT_EQ(r.exit_kind_text(), c.reason);
    EXPECT_EQ(r.exit_detail(), c.detail);
    EXPECT_EQ(r.exit_code(), 0);  // the loader's status says nothing about the verdict
    EXPECT_NE(r.log().find("DEBUG DUMP"), std::string::npos) << r.log();
    EXPECT_EQ((*sup)->Stop().state(), v1::SCHEDULER_STATE_EJECTED);
  }
}

TEST_F(SupervisorTest, WithoutAKernelLogTheLoadersExitRecordClassifies) {
  SupervisorEnv env = Env();
  env.kernel_log = std::make_unique<testing::FileKernelLog>((dir_ / "silent").string());
  env.eject_drain = absl::Milliseconds(500);
  auto sup = SchedulerSupervisor::Start(
      Spec(absl::StrCat(kAttach, "sleep 0.3; ", kDetach,
                        "echo 'EXIT: runnable task stall (sh[9] failed to run for 31.002s) on "
                        "CPU 0 [kind 1026, code 0]'; exit 0")),
      std::move(env));
  ASSERT_TRUE(sup.ok()) << sup.status();
  ASSERT_TRUE(WaitNotAlive(**sup, absl::Seconds(20)));
  SchedulerReport r = (*sup)->report();
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_EJECTED);
  EXPECT_EQ(r.exit_kind(), ktstr::v1::SCHED_EXIT_KIND_STALL);
  EXPECT_EQ(r.exit_detail(), "sh[9] failed to run for 31.002s");
}

TEST_F(SupervisorTest, LoaderIgnoringSigintIsKilled) {
  SupervisorEnv env = Env();
  env.stop_grace = absl::Milliseconds(300);
  env.disable_confirm = absl::Milliseconds(300);
  auto sup = SchedulerSupervisor::Start(
      Spec(absl::StrCat(kAttach, "trap '' INT; while :; do sleep 0.02; done")), std::move(env));
  ASSERT_TRUE(sup.ok()) << sup.status();
  ASSERT_EQ((*sup)->report().state(), v1::SCHEDULER_STATE_RAN);
  SchedulerReport r = (*sup)->Stop();
  EXPECT_EQ(r.signal(), SIGKILL);
  EXPECT_EQ(r.exit_code(), -1);
  // Nothing disabled our fake sysfs, and the report says so instead of pretending.
  EXPECT_NE(r.exit_detail().find("still 'enabled'"), std::string::npos) << r.exit_detail();
}

TEST_F(SupervisorTest, AppliesSysctlsAndRejectsBadOnes) {
  fs::create_directories(dir_ / "proc" / "kernel");
  Write("proc/kernel/sched_rt_runtime_us", "950000\n");
  SchedulerLaunchSpec spec = Spec(absl::StrCat(kAttach, kRunUntilSigint));
  spec.sysctls = {{"kernel.sched_rt_runtime_us", "-1"}};
  auto sup = SchedulerSupervisor::Start(spec, Env());
  ASSERT_TRUE(sup.ok()) << sup.status();
  EXPECT_EQ(Read("proc/kernel/sched_rt_runtime_us").substr(0, 2), "-1");
  (*sup)->Stop();

  spec.sysctls = {{"kernel.no_such_knob", "1"}};
  EXPECT_FALSE(SchedulerSupervisor::Start(spec, Env()).ok());
  spec.sysctls = {{"../etc/passwd", "1"}};
  EXPECT_EQ(SchedulerSupervisor::Start(spec, Env()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SupervisorTest, RejectsABadSpec) {
  SchedulerLaunchSpec spec = Spec("exit 0");
  spec.attach_timeout = absl::ZeroDuration();
  EXPECT_EQ(SchedulerSupervisor::Start(spec, Env()).status().code(),
            absl::StatusCode::kInvalidArgument);
  spec = Spec("exit 0");
  spec.binary_path = "";
  EXPECT_EQ(SchedulerSupervisor::Start(spec, Env()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ktstr::agent
