// End to end under QEMU (TCG here): `ktstr-client test scx_fifo_tests` against a real ktstrd
// (temp socket and state dir) that boots real VMs with the default guest kernel. One run of
// six jobs on one shape; each test must end with exactly its expected VerdictKind, read from
// the client's --json output and again from the daemon's SQLite results, and the text report
// (`ktstr-client stats show`) must name the scheduler, the ejection reason and the loader log.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <map>

#include "daemon/testing/ktstrd_harness.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/fs_util.h"
#include "gtest/gtest.h"
#include "kernel_cache/cache_layout.h"
#include "kernel_cache/env.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace ktstr {
namespace {

using daemon::ReadFileToString;
using daemon::RemoveTree;

const pid_t kTestPid = getpid();
std::string SockDir() { return absl::StrCat("/tmp/ktstr_fifoit_", kTestPid); }
std::string Sock() { return SockDir() + "/ktstrd.sock"; }
std::string Tmp() { return std::string(getenv("TEST_TMPDIR")); }
std::string State() { return Tmp() + "/state"; }

// What each scx_fifo_tests case must end with (the binary's expect_<verdict>_* naming).
const std::map<std::string, ktstr::v1::VerdictKind>& Expected() {
  static const auto* m = new std::map<std::string, ktstr::v1::VerdictKind>{
      {"steady_scx_fifo", ktstr::v1::VERDICT_KIND_PASS},
      {"steady_eevdf", ktstr::v1::VERDICT_KIND_PASS},
      {"expect_ejected_stall", ktstr::v1::VERDICT_KIND_SCHED_EJECTED},
      {"expect_fail_degrade", ktstr::v1::VERDICT_KIND_FAIL},
      {"expect_not_attached_fail_verify", ktstr::v1::VERDICT_KIND_SCHED_NOT_ATTACHED},
      {"expect_died_exit_now", ktstr::v1::VERDICT_KIND_SCHED_DIED},
  };
  return *m;
}

// Runs ktstr-client; stdout to *out, stderr to *err; returns the exit code.
int Client(const std::vector<std::string>& args, std::string* out, std::string* err) {
  return ktstr::daemon::testing::RunClient(Sock(), Tmp(), args, out, err);
}

int StoredVerdict(const std::string& test_name) {
  return ktstr::daemon::testing::StoredVerdict(State() + "/results.db", test_name);
}

class ScxFifoE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RemoveTree(SockDir());
    daemon_ = fork();
    if (daemon_ == 0) {
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
    ASSERT_TRUE(ch->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(60))))
        << "ktstrd did not come up:\n" << ReadFileToString(State() + ".log").value_or("");
  }
  void TearDown() override {
    if (daemon_ > 0) {
      kill(daemon_, SIGTERM);
      waitpid(daemon_, nullptr, 0);
    }
    RemoveTree(SockDir());
  }
  pid_t daemon_ = -1;
};

TEST_F(ScxFifoE2eTest, SixCasesGiveTheirSixVerdicts) {
  std::string out, err;
  const absl::Time t0 = absl::Now();
  // Some jobs are expected to fail, so the client's exit code is 1 (tests failed).
  // -v: the jobs' output (the scheduler loader's among it) streams to stderr live.
  EXPECT_EQ(Client({"test", "scheduler_tests/scx_fifo_tests", "--json", "-v"}, &out, &err), 1)
      << out << err;
  const double run_s = absl::ToDoubleSeconds(absl::Now() - t0);
  ktstr::v1::Run run;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &run, opts).ok()) << out << err;
  ASSERT_EQ(run.jobs_size(), static_cast<int>(Expected().size())) << out;
  double vm_test_s = 0;
  for (const ktstr::v1::Job& job : run.jobs()) {
    const std::string& name = job.spec().test_name();
    auto want = Expected().find(name);
    ASSERT_NE(want, Expected().end()) << "unexpected test " << name;
    const ktstr::v1::Verdict& v = job.verdict();
    EXPECT_EQ(v.kind(), want->second)
        << name << ": got " << ktstr::v1::VerdictKind_Name(v.kind()) << " (" << v.reason()
        << ")\nscheduler log:\n" << v.scheduler().log_excerpt() << "\nconsole:\n"
        << v.console_excerpt();
    EXPECT_EQ(StoredVerdict(name), want->second) << name;
    vm_test_s += job.test_s();
    printf("  %-34s %-22s wall %6.1fs test %5.1fs startup %5.1fs %s  %s\n", name.c_str(),
           ktstr::v1::VerdictKind_Name(v.kind()).c_str(), job.wall_s(), job.test_s(),
           job.startup_s(), job.warm_vm() ? "warm" : "cold", v.reason().c_str());
    const bool eevdf = name == "steady_eevdf";
    EXPECT_EQ(job.spec().scheduler().name(), eevdf ? "" : "scx_fifo") << name;
    if (!eevdf) {
      EXPECT_TRUE(job.spec().scheduler().has_binary()) << name;
    }
    if (name == "steady_scx_fifo") {
      EXPECT_EQ(v.scheduler().name(), "scx_fifo") << v.DebugString();
    } else if (name == "expect_ejected_stall") {
      EXPECT_EQ(v.scheduler().exit_kind(), ktstr::v1::SCHED_EXIT_KIND_STALL) << v.DebugString();
      EXPECT_TRUE(absl::StrContains(v.reason(), "scheduler ejected: runnable task stall"))
          << v.reason();
      // The loader's own exit record (and the kernel's debug dump before it) is in the log.
      EXPECT_TRUE(absl::StrContains(v.scheduler().log_excerpt(), "EXIT: runnable task stall"))
          << v.scheduler().log_excerpt();
    } else if (name == "expect_fail_degrade") {
      // The test's own gap check failed, on the degraded cgroup, while scx_fifo stayed
      // attached to the end (the verdict records it, with no ejection).
      EXPECT_TRUE(absl::StartsWith(v.reason(), "stuck ")) << v.reason();
      EXPECT_TRUE(absl::StrContains(v.reason(), "(cg_1 worker")) << v.reason();
      EXPECT_TRUE(absl::StrContains(v.reason(), "limit 200ms")) << v.reason();
      EXPECT_EQ(v.scheduler().name(), "scx_fifo") << v.DebugString();
      EXPECT_NE(v.scheduler().exit_kind(), ktstr::v1::SCHED_EXIT_KIND_STALL);
    } else if (name == "expect_not_attached_fail_verify") {
      EXPECT_TRUE(absl::StrContains(v.reason(), "verifier")) << v.reason();
    } else if (name == "expect_died_exit_now") {
      EXPECT_EQ(v.scheduler().process_exit_code(), 3) << v.DebugString();
    }
  }
  printf("run: %.1fs wall for %d jobs, %.1fs summed test time\n", run_s, run.jobs_size(),
         vm_test_s);
  // The loader's output reached the client live, tagged as the scheduler's stream.
  EXPECT_TRUE(absl::StrContains(err, " sched] scx_fifo: attached")) << err;
  EXPECT_TRUE(absl::StrContains(err, " sched] EXIT: runnable task stall")) << err;

  // The text report of the same run: scheduler named, reason line, loader log excerpt.
  ASSERT_EQ(Client({"stats", "show", run.run_id()}, &out, &err), 0) << out << err;
  EXPECT_TRUE(absl::StrContains(out, "[sched=scx_fifo]")) << out;
  EXPECT_TRUE(absl::StrContains(out, "scheduler ejected: runnable task stall")) << out;
  EXPECT_TRUE(absl::StrContains(out, "--- scheduler log (scx_fifo) ---")) << out;
}

// Debian's 6.12 cloud kernel is built without CONFIG_SCHED_CLASS_EXT (tools/setup step 6
// keeps its package): imported through the client, a scheduler test on it is SKIPPED with
// the reason, not failed, and the EEVDF test beside it still runs and passes.
TEST_F(ScxFifoE2eTest, KernelWithoutSchedExtSkipsSchedulerTestsAndRunsEevdf) {
  absl::StatusOr<std::string> ktstr_cache = kcache::KtstrCacheDir(kcache::RealEnv());
  ASSERT_TRUE(ktstr_cache.ok()) << ktstr_cache.status();
  std::string deb;
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator(*ktstr_cache + "/debian/no-sched-ext", ec)) {
    if (absl::StartsWith(e.path().filename().string(), "linux-image-")) deb = e.path();
  }
  ASSERT_FALSE(deb.empty()) << "no linux-image .deb in " << *ktstr_cache
                            << "/debian/no-sched-ext: run tools/setup (step 6)";
  std::string out, err;
  ASSERT_EQ(Client({"kernel", "import", deb}, &out, &err), 0) << out << err;
  const std::string key = out.substr(0, out.find(' '));
  EXPECT_TRUE(absl::StrContains(out, "sched_ext no")) << out;

  EXPECT_EQ(Client({"test", "scheduler_tests/scx_fifo_tests", "-E", "steady", "--kernel", key,
                    "--json"},
                   &out, &err),
            0)
      << "a skip is not a failure\n" << out << err;
  ktstr::v1::Run run;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &run, opts).ok()) << out << err;
  ASSERT_EQ(run.jobs_size(), 2) << out;
  for (const ktstr::v1::Job& job : run.jobs()) {
    const ktstr::v1::Verdict& v = job.verdict();
    EXPECT_EQ(job.kernel_key(), key);
    if (job.spec().test_name() == "steady_scx_fifo") {
      EXPECT_EQ(v.kind(), ktstr::v1::VERDICT_KIND_SKIP) << v.DebugString();
      EXPECT_TRUE(absl::StrContains(v.reason(), "no sched_ext")) << v.reason();
    } else {
      EXPECT_EQ(v.kind(), ktstr::v1::VERDICT_KIND_PASS) << v.DebugString();
    }
  }
}

}  // namespace
}  // namespace ktstr
