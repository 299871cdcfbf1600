// End to end under QEMU (TCG here): ktstr-client -> ktstrd -> warm VM -> guest agent ->
// result in SQLite, with the real example test binary; a small gauntlet; a test that panics
// the guest; kill -9 of the daemon mid-run; an interactive shell (`ktstr-client shell`) with
// piped stdin. One daemon (and its warm pool) is shared by the cases.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <fstream>
#include <thread>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "daemon/testing/ktstrd_harness.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "daemon/fs_util.h"
#include "gtest/gtest.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace ktstr::daemon {
namespace {

// The test process's pid, fixed once: forked children must use the same paths.
const pid_t kTestPid = getpid();
std::string Sock() { return absl::StrCat("/tmp/ktstr_vmit_", kTestPid, "/ktstrd.sock"); }
std::string State() { return std::string(getenv("TEST_TMPDIR")) + "/state"; }

pid_t StartDaemon() {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open((State() + ".log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 2);
    execl("daemon/ktstrd", "ktstrd", ("--socket=" + Sock()).c_str(),
          ("--state_dir=" + State()).c_str(), "--agent=guest_agent/ktstr-agent",
          // Its own kernel cache (tools/setup's kernel is imported into it at startup):
          // kernels the developer built on this machine must not become this test's default.
          ("--kernel_cache_dir=" + std::string(getenv("TEST_TMPDIR")) + "/kernels").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  auto ch = grpc::CreateChannel("unix:" + Sock(), grpc::InsecureChannelCredentials());
  EXPECT_TRUE(ch->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(60))))
      << "ktstrd did not come up:\n" << ReadFileToString(State() + ".log").value_or("");
  return pid;
}

// Runs ktstr-client with `args`; returns its exit code, stdout and stderr in *out.
int Client(const std::vector<std::string>& args, std::string* out) {
  return ktstr::daemon::testing::RunClient(Sock(), getenv("TEST_TMPDIR"), args, out);
}

int StoredVerdict(const std::string& test_name) {
  return ktstr::daemon::testing::StoredVerdict(State() + "/results.db", test_name);
}

// Pids of the QEMU processes whose parent is `parent` (from /proc/*/stat).
std::vector<pid_t> QemuChildren(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    absl::StatusOr<std::string> stat = ReadFileToString(absl::StrCat("/proc/", pid, "/stat"));
    if (!stat.ok()) continue;
    // "pid (comm) state ppid ...": comm may hold spaces, so parse after the last ')'.
    size_t close = stat->rfind(')');
    pid_t ppid = 0;
    std::vector<std::string> rest = absl::StrSplit(stat->substr(close + 2), ' ');
    if (rest.size() > 1 && absl::SimpleAtoi(rest[1], &ppid) && ppid == parent &&
        absl::StrContains(stat->substr(0, close), "(qemu")) {
      out.push_back(pid);
    }
  }
  closedir(d);
  return out;
}

class KtstrdVmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    RemoveTree(absl::StrCat("/tmp/ktstr_vmit_", kTestPid));
    daemon_ = StartDaemon();
  }
  static void TearDownTestSuite() {
    if (daemon_ > 0) {
      kill(daemon_, SIGTERM);
      waitpid(daemon_, nullptr, 0);
    }
    RemoveTree(absl::StrCat("/tmp/ktstr_vmit_", kTestPid));
  }
  static pid_t daemon_;
};
pid_t KtstrdVmTest::daemon_ = -1;

// First on purpose (gtest runs cases in file order): no job has warmed a pool yet, and a
// one-off shell creates none, so once the shell is over the daemon has no QEMU at all.
TEST_F(KtstrdVmTest, ShellSeesItsTopologyExitsWithItsCodeAndLeavesNoQemu) {
  std::string out, err;
  int rc = ktstr::daemon::testing::RunClientWithInput(
      Sock(), getenv("TEST_TMPDIR"),
      {"shell", "--topology", "1,2,2,1", "--timeout", "900", "--kernel-arg", "ktstr.marker=7"},
      "cat /sys/devices/system/cpu/online; cat /proc/cmdline; exit 3\n", &out, &err);
  EXPECT_EQ(rc, 3) << out << err;
  // busybox sh on the guest's pty echoes the line, then cat prints the 4 CPUs of 1n2l2c1t.
  EXPECT_TRUE(absl::StrContains(out, "\r\n0-3\r\n")) << out;
  // --kernel-arg reached the guest kernel's command line.
  EXPECT_TRUE(absl::StrContains(out, " ktstr.marker=7")) << out;
  EXPECT_TRUE(absl::StrContains(err, "booting 1n2l2c1t on ")) << err;
  EXPECT_TRUE(absl::StrContains(err, "ready: ")) << err;
  EXPECT_TRUE(QemuChildren(daemon_).empty()) << "a QEMU of the shell survived it";
  ASSERT_EQ(system(absl::StrCat("ls ", State(), "/qemu-pids > ", State(), ".pids").c_str()), 0);
  EXPECT_EQ(ReadFileToString(State() + ".pids").value_or("?"), "");
}

// A shell whose guest kernel panics ends with the panic line, not a bare "lost the agent",
// and leaves no QEMU behind.
TEST_F(KtstrdVmTest, ShellWhoseGuestPanicsSaysTheKernelCrashed) {
  std::string out, err;
  int rc = ktstr::daemon::testing::RunClientWithInput(
      Sock(), getenv("TEST_TMPDIR"), {"shell", "--topology", "1,1,2,1", "--timeout", "900"},
      "echo c > /proc/sysrq-trigger\n", &out, &err);
  EXPECT_NE(rc, 0) << out << err;
  EXPECT_TRUE(absl::StrContains(err, "the guest kernel crashed: Kernel panic - not syncing"))
      << out << err;
  EXPECT_TRUE(QemuChildren(daemon_).empty()) << "a QEMU of the shell survived it";
}

TEST_F(KtstrdVmTest, ExampleTestPassesInAVmAndIsStored) {
  std::string out;
  EXPECT_EQ(Client({"test", "scheduler_tests/example_tests", "-E", "steady"}, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "PASS [")) << out;
  EXPECT_TRUE(absl::StrContains(out, "example_tests ktstr/steady")) << out;
  EXPECT_EQ(StoredVerdict("steady"), ktstr::v1::VERDICT_KIND_PASS);
  // The pool now keeps a ready clone of this shape; the next run takes it.
  for (int i = 0; i < 600; ++i) {
    Client({"pool", "status"}, &out);
    if (absl::StrContains(out, "1n1l2c1t/2048M       1")) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  EXPECT_EQ(Client({"test", "scheduler_tests/example_tests", "-E", "steady", "--json"}, &out), 0)
      << out;
  EXPECT_TRUE(absl::StrContains(out, "\"warmVm\": true")) << out;
}

// Two NUMA nodes (2n2l1c1t), one cgroup per node bound to its node's memory: the workers'
// page samples (numa_maps, in the guest) land on their own node, and the job's stored
// report says so per cgroup. ~15 s under TCG (a new shape: one cold boot).
TEST_F(KtstrdVmTest, NumaBoundCgroupsKeepTheirPagesOnTheirNode) {
  std::string out, err;
  ASSERT_EQ(ktstr::daemon::testing::RunClient(Sock(), getenv("TEST_TMPDIR"),
                                              {"test", "scheduler_tests/numa_tests", "--json"},
                                              &out, &err),
            0)
      << out << err;
  ktstr::v1::Run run;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &run, opts).ok()) << out;
  ASSERT_EQ(run.jobs_size(), 1);
  const ktstr::v1::Verdict& v = run.jobs(0).verdict();
  EXPECT_EQ(v.kind(), ktstr::v1::VERDICT_KIND_PASS) << v.DebugString();
  int checked = 0;
  for (const ktstr::v1::CgroupStats& c : v.report().stats().cgroups()) {
    // The 4 MiB cache_pressure buffer is 1024 pages.
    EXPECT_GE(c.numa_pages(), 1024u) << c.DebugString();
    EXPECT_GE(c.page_locality(), 0.9) << c.DebugString();
    ++checked;
  }
  EXPECT_EQ(checked, 2) << v.DebugString();
}

// With no flags ktstrd serves the kernel tools/setup fetched, from the kernel cache, under
// its real key; the jobs above ran on it.
// `ktstr-client gauntlet` on two tiny presets: one run, two VMs of different shapes (1n1l4c1t,
// 1n2l2c1t), each job named after its variant, and the test/profile x preset matrix. About
// 20 s under TCG; the expansion itself is tested without VMs in //client.
TEST_F(KtstrdVmTest, GauntletOnTwoTinyPresets) {
  std::string out;
  EXPECT_EQ(Client({"gauntlet", "scheduler_tests/example_tests", "-E", "steady", "--presets",
                    "tiny-1llc,tiny-2llc", "--max-vcpus", "4"},
                   &out),
            0)
      << out;
  EXPECT_TRUE(absl::StrContains(out, "PASS [")) << out;
  EXPECT_TRUE(absl::StrContains(out, "example_tests gauntlet/steady/tiny-1llc/default")) << out;
  EXPECT_TRUE(absl::StrContains(out, "example_tests gauntlet/steady/tiny-2llc/default")) << out;
  EXPECT_TRUE(absl::StrContains(out, "test/profile    tiny-1llc  tiny-2llc\n"
                                     "steady/default  PASS       PASS\n"))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "2 tests run: 2 passed, 0 failed, 0 skipped")) << out;
}

TEST_F(KtstrdVmTest, KernelListShowsTheSetupKernelAsDefault) {
  std::string out;
  ASSERT_EQ(Client({"kernel", "list", "--json"}, &out), 0) << out;
  ktstr::v1::ListKernelsResponse list;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &list).ok()) << out;
  const ktstr::v1::KernelEntry* def = nullptr;
  for (const auto& k : list.kernels()) {
    if (k.is_default()) def = &k;
  }
  ASSERT_NE(def, nullptr) << out;
  EXPECT_TRUE(absl::StrContains(def->cache_key(), "-deb-x86_64-kc")) << def->cache_key();
  EXPECT_TRUE(def->sched_ext());
  EXPECT_TRUE(def->btf());
  EXPECT_TRUE(def->has_vmlinux());
  ASSERT_EQ(Client({"kernel", "list"}, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, def->cache_key())) << out;
}

TEST_F(KtstrdVmTest, GuestPanicFailsWithThePanicText) {
  std::string out;
  EXPECT_EQ(Client({"test", "daemon/testing/panic_tests.sh"}, &out), 1) << out;
  EXPECT_TRUE(absl::StrContains(out, "CRASH [")) << out;
  EXPECT_TRUE(absl::StrContains(out, "Kernel panic")) << out;
  EXPECT_EQ(StoredVerdict("panic"), ktstr::v1::VERDICT_KIND_VM_CRASH);
}

TEST_F(KtstrdVmTest, KillNineMidRunThenRestart) {
  std::string log = std::string(getenv("TEST_TMPDIR")) + "/long.out";
  std::string cmd = absl::StrCat("client/ktstr-client --socket ", Sock(),
                                 " --no-autostart test scheduler_tests/example_tests -E steady"
                                 " --duration 120 >", log, " 2>&1 &");
  ASSERT_EQ(system(cmd.c_str()), 0);
  // Wait until the job runs in a VM (its QEMU pid recorded).
  std::vector<pid_t> qemus;
  for (int i = 0; i < 600; ++i) {
    std::string out;
    Client({"daemon", "status"}, &out);
    if (absl::StrContains(out, "running 1")) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  absl::SleepFor(absl::Seconds(2));
  std::string pids = State() + "/qemu-pids";
  ASSERT_EQ(system(absl::StrCat("ls ", pids, " > ", pids, ".list").c_str()), 0);
  std::ifstream list(pids + ".list");
  for (std::string line; std::getline(list, line);) {
    pid_t pid;
    if (absl::SimpleAtoi(line, &pid)) qemus.push_back(pid);
  }
  ASSERT_FALSE(qemus.empty());
  kill(daemon_, SIGKILL);
  waitpid(daemon_, nullptr, 0);
  // PR_SET_PDEATHSIG: every QEMU of the dead daemon goes with it.
  for (pid_t q : qemus) {
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      auto comm = ReadFileToString(absl::StrCat("/proc/", q, "/comm"));
      gone = !comm.ok() || !absl::StartsWith(*comm, "qemu");
      if (!gone) absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_TRUE(gone) << "QEMU " << q << " survived its daemon";
  }
  daemon_ = StartDaemon();
  std::string out;
  EXPECT_EQ(Client({"stats", "show", "latest"}, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "INTERRUPTED")) << out;
  EXPECT_EQ(StoredVerdict("steady"), ktstr::v1::VERDICT_KIND_INTERRUPTED);
  // Earlier results survived.
  EXPECT_EQ(Client({"stats", "list"}, &out), 0);
  EXPECT_TRUE(absl::StrContains(out, "1 passed")) << out;
}

}  // namespace
}  // namespace ktstr::daemon
