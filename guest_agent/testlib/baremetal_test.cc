// Runs baremetal_tests (a real ktstr test binary) on this host, as `ktstr run` would: real
// cgroups, processes and scheduling under the host's scheduler. Checks verdicts, reports read
// back through --ktstr-result-fd, and that no cgroup, process or temp file is left behind.
#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "guest_agent/testlib/topology.h"
#include "proto/ktstr/v1/result.pb.h"

namespace ktstr {
namespace {

using std::chrono::milliseconds;

std::string Binary() {
  return absl::StrCat(getenv("TEST_SRCDIR"), "/ktstr/guest_agent/testlib/baremetal_tests");
}

std::string ReadFd(int fd) {
  std::string out;
  lseek(fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  return out;
}

struct ChildRun {
  pid_t pid = -1;
  int exit_code = -1;
  std::string out;
  v1::TestReport report;
  bool has_report = false;
};

// Runs `BIN --ktstr-run NAME ...` with TMPDIR=tmpdir; `during(pid)` runs while it does.
ChildRun RunTest(const std::string& name, const std::string& tmpdir,
                 const std::vector<std::string>& extra_env = {},
                 const std::function<void(pid_t)>& during = nullptr) {
  ChildRun r;
  const int result_fd = memfd_create("report", 0), out_fd = memfd_create("out", 0);
  r.pid = fork();
  if (r.pid == 0) {
    dup2(out_fd, 1);
    setenv("TMPDIR", tmpdir.c_str(), 1);
    for (const std::string& kv : extra_env) putenv(strdup(kv.c_str()));
    const std::string fd = std::to_string(result_fd);
    execl(Binary().c_str(), Binary().c_str(), "--ktstr-run", name.c_str(), "--ktstr-result-fd",
          fd.c_str(), nullptr);
    _exit(127);
  }
  if (during) during(r.pid);
  int status = 0;
  waitpid(r.pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFd(out_fd);
  const std::string bytes = ReadFd(result_fd);
  r.has_report = !bytes.empty() && r.report.ParseFromString(bytes);
  close(result_fd);
  close(out_fd);
  return r;
}

bool Exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

// Processes running the test binary (its workers are forks of it), waiting briefly for
// killed ones to be reaped.
std::vector<pid_t> BinaryProcesses() {
  std::vector<pid_t> out;
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(2000);
  do {
    out.clear();
    DIR* d = opendir("/proc");
    while (struct dirent* e = readdir(d)) {
      const pid_t pid = atoi(e->d_name);
      if (pid <= 0) continue;
      char exe[4096];
      const ssize_t n = readlink(absl::StrCat("/proc/", pid, "/exe").c_str(), exe, sizeof(exe) - 1);
      if (n <= 0) continue;
      exe[n] = 0;
      if (std::string(exe).find("guest_agent/testlib/baremetal_tests") != std::string::npos) {
        out.push_back(pid);
      }
    }
    closedir(d);
    if (out.empty()) break;
    std::this_thread::sleep_for(milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return out;
}

class BareMetalTest : public testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "bare-metal runs need root (cgroups, RT policy)";
    tmpdir_ = absl::StrCat(getenv("TEST_TMPDIR"), "/scratch");
    mkdir(tmpdir_.c_str(), 0755);
  }
  // Nothing of the run may remain: cgroup subtree, processes, scratch files.
  void ExpectNoLeftovers(const ChildRun& r) {
    for (const char* h : {"/sys/fs/cgroup", "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/unified"}) {
      const std::string root = absl::StrCat(h, "/ktstr-", r.pid);
      EXPECT_FALSE(Exists(root)) << root << " left behind";
    }
    EXPECT_TRUE(BinaryProcesses().empty()) << "worker processes left behind";
    DIR* d = opendir(tmpdir_.c_str());
    int entries = 0;
    while (struct dirent* e = readdir(d)) entries += e->d_name[0] != '.';
    closedir(d);
    EXPECT_EQ(entries, 0) << "files left in TMPDIR";
  }
  std::string tmpdir_;
};

TEST_F(BareMetalTest, SteadyGivesEveryWorkerWorkAndASmallSpread) {
  ChildRun r = RunTest("steady_short", tmpdir_);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  ASSERT_TRUE(r.has_report) << r.out;
  EXPECT_EQ(r.report.outcome(), v1::TEST_OUTCOME_PASS);
  EXPECT_EQ(r.report.test_name(), "steady_short");
  EXPECT_EQ(r.report.stats().total_workers(), 4u);
  ASSERT_EQ(r.report.workers_size(), 4);
  for (const v1::WorkerSummary& w : r.report.workers()) {
    EXPECT_GT(w.work_units(), 0u) << w.pid();
    EXPECT_EQ(w.exit(), "completed");
  }
  for (const v1::CgroupStats& c : r.report.stats().cgroups()) {
    EXPECT_LE(c.spread_pct(), 15.0) << c.name();
  }
  EXPECT_NE(r.out.find("PASS"), std::string::npos);
  EXPECT_NE(r.out.find("4 workers, "), std::string::npos) << r.out;
  EXPECT_EQ(r.report.stats_text().substr(0, 10), "4 workers,");
  ExpectNoLeftovers(r);
}

TEST_F(BareMetalTest, CpusetKeepsWorkersOnTheirCpus) {
  ChildRun r = RunTest("cpuset_isolated", tmpdir_);
  ASSERT_TRUE(r.has_report) << r.out;
  if (r.exit_code == 2) GTEST_SKIP() << "host has fewer than 2 usable CPUs";
  EXPECT_EQ(r.exit_code, 0) << r.out;
  absl::StatusOr<TestTopology> topo = TestTopology::FromSysfs();
  ASSERT_TRUE(topo.ok());
  const CpuSet usable = topo->usable_cpus();
  const size_t half = usable.size() / 2;
  const CpuSet want0(usable.begin(), usable.begin() + half),
      want1(usable.begin() + half, usable.end());
  ASSERT_EQ(r.report.workers_size(), 4);
  for (const v1::WorkerSummary& w : r.report.workers()) {
    absl::StatusOr<CpuSet> used = ParseCpuList(w.cpus_used_list());
    ASSERT_TRUE(used.ok());
    EXPECT_FALSE(used->empty());
    EXPECT_TRUE(CpuSubset(*used, w.cgroup() == "cg_0" ? want0 : want1))
        << w.cgroup() << " worker ran on " << w.cpus_used_list();
  }
  for (const v1::CgroupStats& c : r.report.stats().cgroups()) {
    EXPECT_EQ(c.allowed_cpus_list(), FormatCpuList(c.name() == "cg_0" ? want0 : want1));
  }
  ExpectNoLeftovers(r);
}

// Details blaming the FIFO worker: none expected, it is the one starving the other.
std::vector<std::string> RtBlame(const ChildRun& r) {
  std::vector<std::string> blame;
  for (const v1::Detail& d : r.report.details()) {
    if (d.cgroup() == "rt") blame.push_back(d.message());
  }
  return blame;
}

TEST_F(BareMetalTest, StarvedIdleWorkerFailsTheGapCheck) {
  ChildRun r = RunTest("starved", tmpdir_);
  ASSERT_TRUE(r.has_report) << r.out;
  if (!RtBlame(r).empty()) {
    // This host is itself a 2-vCPU VM: a vCPU descheduled by its hypervisor for a second
    // stalls even a SCHED_FIFO task (seen once in CI). A misattribution would repeat; a
    // host hiccup does not, so one more run decides.
    fprintf(stderr, "first run blamed the FIFO worker (%s); running once more\n",
            RtBlame(r)[0].c_str());
    ExpectNoLeftovers(r);
    r = RunTest("starved", tmpdir_);
    ASSERT_TRUE(r.has_report) << r.out;
  }
  if (r.exit_code == 2) GTEST_SKIP() << "host has fewer than 2 usable CPUs";
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.report.outcome(), v1::TEST_OUTCOME_FAIL);
  absl::StatusOr<TestTopology> topo = TestTopology::FromSysfs();
  const int victim = topo->usable_cpus().back();
  bool found = false;
  for (const v1::Detail& d : r.report.details()) {
    if (d.cgroup() != "idle") continue;
    if (d.kind() == v1::DETAIL_KIND_STUCK) {
      // e.g. "stuck 950ms on cpu1 at +1012ms (idle worker 1234, limit 400ms)"
      EXPECT_TRUE(std::regex_search(
          d.message(),
          std::regex(absl::StrCat("^stuck [0-9]+ms on cpu", victim,
                                  " at \\+[0-9]+ms \\(idle worker [0-9]+, limit 400ms\\)$"))))
          << d.message();
      found = true;
    } else if (d.kind() == v1::DETAIL_KIND_STARVED) {
      found = true;  // RT throttling disabled on this host: the idle worker never ran
    }
  }
  EXPECT_TRUE(found) << r.out;
  for (const std::string& m : RtBlame(r)) {
    ADD_FAILURE() << "the FIFO worker itself should be fine: " << m;
  }
  EXPECT_NE(r.out.find("FAIL"), std::string::npos);
  ExpectNoLeftovers(r);
}

TEST_F(BareMetalTest, ExpectErrInvertsTheVerdict) {
  ChildRun r = RunTest("starved_expected", tmpdir_);
  ASSERT_TRUE(r.has_report) << r.out;
  if (r.exit_code == 2) GTEST_SKIP() << "host has fewer than 2 usable CPUs";
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.report.outcome(), v1::TEST_OUTCOME_PASS);
  EXPECT_GE(r.report.details_size(), 1);  // the failure it expected is kept for the record
  EXPECT_NE(r.out.find("(failed as expected)"), std::string::npos) << r.out;
  ExpectNoLeftovers(r);
}

TEST_F(BareMetalTest, MixedWorkloadsLeaveNoScratchFiles) {
  ChildRun r = RunTest("mixed_short", tmpdir_);
  ASSERT_TRUE(r.has_report) << r.out;
  EXPECT_EQ(r.report.stats().cgroups_size(), 3);
  int io_workers = 0;
  for (const v1::WorkerSummary& w : r.report.workers()) {
    if (w.work_type() != "IoSync") continue;
    ++io_workers;
    EXPECT_GT(w.work_units(), 0u);
    EXPECT_GT(w.wake_samples(), 0u);
  }
  EXPECT_EQ(io_workers, 2);
  ExpectNoLeftovers(r);
}

TEST_F(BareMetalTest, NestedTaskMoveAttributesWorkersToTheTarget) {
  ChildRun r = RunTest("nested_move", tmpdir_);
  ASSERT_TRUE(r.has_report) << r.out;
  EXPECT_EQ(r.exit_code, 0) << r.out;
  ASSERT_EQ(r.report.workers_size(), 2);
  for (const v1::WorkerSummary& w : r.report.workers()) EXPECT_EQ(w.cgroup(), "outer/b");
  ExpectNoLeftovers(r);
}

TEST_F(BareMetalTest, DeadSchedulerFailsTheTest) {
  pid_t sched = fork();
  if (sched == 0) {
    pause();
    _exit(0);
  }
  ChildRun r = RunTest("long_steady", tmpdir_, {absl::StrCat("SCHED_PID=", sched)}, [&](pid_t) {
    std::this_thread::sleep_for(milliseconds(500));
    kill(sched, SIGKILL);
    waitpid(sched, nullptr, 0);
  });
  EXPECT_EQ(r.exit_code, 1) << r.out;
  ASSERT_TRUE(r.has_report) << r.out;
  ASSERT_GE(r.report.details_size(), 1);
  EXPECT_EQ(r.report.details(0).kind(), v1::DETAIL_KIND_SCHEDULER_DIED);
  EXPECT_LT(r.report.duration_s(), 10.0);  // ended early, not after 30 s
  ExpectNoLeftovers(r);
}

TEST_F(BareMetalTest, SigtermCleansUpMidRun) {
  ChildRun r = RunTest("long_steady", tmpdir_, {}, [](pid_t pid) {
    std::this_thread::sleep_for(milliseconds(500));
    kill(pid, SIGTERM);
  });
  EXPECT_EQ(r.exit_code, 3) << r.out;
  ASSERT_TRUE(r.has_report);
  EXPECT_NE(r.report.details(0).message().find("interrupted"), std::string::npos);
  ExpectNoLeftovers(r);
}

}  // namespace
}  // namespace ktstr
