// `ktstr-client gauntlet` end to end against a real ktstrd whose executor is the daemon's
// fake (--executor=fake: no VM; the verdict follows the test name, "fail" -> FAIL, "skip" ->
// SKIP, else PASS; daemon/testing/fake_executor.h). Real here: the client binary, the test
// binary's --ktstr-list, uploads, the run stream, the daemon's storage and the exit code. The
// VM side is covered by //daemon:ktstrd_vm_itest (GauntletOnTwoTinyPresets).
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/fs_util.h"
#include "daemon/testing/ktstrd_harness.h"
#include "gtest/gtest.h"
#include "kernel_cache/testing/test_files.h"
#include "proto/ktstr/v1/run.pb.h"

namespace ktstr::client {
namespace {

using daemon::testing::RunClient;

class GauntletFakeDaemonTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new std::string(std::string(getenv("TEST_TMPDIR")) + "/g");
    socket_dir_ = new std::string(absl::StrCat("/tmp/ktstr_gauntlet_", getpid()));
    daemon::RemoveTree(*socket_dir_);
    mkdir(socket_dir_->c_str(), 0700);
    // A kernel-shaped stand-in in tools/setup's layout: the fake executor boots nothing,
    // but ktstrd resolves every job's kernel from its cache.
    const std::string setup = *tmp_ + "/ktstr/debian/default";
    kcache::testing::WriteFile(setup + "/vmlinuz",
                               kcache::testing::MakeBzImage(
                                   "6.1.0-test-amd64", kcache::testing::MakeElf({{".BTF", "b"}})));
    kcache::testing::WriteFile(setup + "/config", "CONFIG_SCHED_CLASS_EXT=y\n");
    kcache::testing::WriteFile(setup + "/release", "6.1.0-test-amd64\n");
    // The test binary's scheduler (Discover("scx_fifo")) is found through this path.
    setenv("KTSTR_SCHEDULER_PATH", "scheduler_tests/schedulers", 1);
    pid_ = fork();
    if (pid_ == 0) {
      setenv("KTSTR_CACHE_DIR", (*tmp_ + "/ktstr").c_str(), 1);
      int fd = open((*tmp_ + "/ktstrd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 2);
      execl("daemon/ktstrd", "ktstrd", "--executor=fake", ("--socket=" + Socket()).c_str(),
            ("--state_dir=" + *tmp_ + "/state").c_str(), "--vcpu_budget=8",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    std::string out;
    for (int i = 0; i < 200; ++i) {  // until it answers (it opens SQLite, imports the kernel)
      if (RunClient(Socket(), *tmp_, {"daemon", "status"}, &out) == 0) break;
      usleep(100 * 1000);
    }
  }
  static void TearDownTestSuite() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    daemon::RemoveTree(*socket_dir_);
  }
  static std::string Socket() { return *socket_dir_ + "/d.sock"; }

  int Gauntlet(std::vector<std::string> args, std::string* out, std::string* err) {
    args.insert(args.begin(), {"gauntlet", "client/gauntlet_tests"});
    return RunClient(Socket(), *tmp_, args, out, err);
  }

  static std::string* tmp_;
  static std::string* socket_dir_;
  static pid_t pid_;
};
std::string* GauntletFakeDaemonTest::tmp_;
std::string* GauntletFakeDaemonTest::socket_dir_;
pid_t GauntletFakeDaemonTest::pid_;

TEST_F(GauntletFakeDaemonTest, RunsEveryVariantPrintsTheMatrixAndFailsOnAFailure) {
  std::string out, err;
  // No --max-vcpus: the daemon's budget (8) skips smt-3llc, and says so.
  EXPECT_EQ(Gauntlet({}, &out, &err), 1) << out << err;
  for (const char* line : {"PASS [", "gauntlet_tests gauntlet/eevdf_pass/tiny-1llc/default",
                           "FAIL [", "gauntlet/sched_fail/smt-2llc/llc+steal [sched=scx_fifo]",
                           "SKIP [", "gauntlet/maybe_skip/smt-2llc/default"}) {
    EXPECT_TRUE(absl::StrContains(out, line)) << line << "\n" << out;
  }
  EXPECT_TRUE(absl::StrContains(out, "test/profile          tiny-1llc  tiny-2llc  smt-2llc\n"
                                     "eevdf_pass/default    PASS       PASS       PASS\n"
                                     "sched_fail/default    -          -          FAIL\n"
                                     "sched_fail/llc        -          -          FAIL\n"
                                     "sched_fail/llc+steal  -          -          FAIL\n"
                                     "maybe_skip/default    -          SKIP       SKIP\n"))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "8 tests run: 3 passed, 3 failed, 2 skipped")) << out;
  EXPECT_TRUE(absl::StrContains(out, "3 variants skipped on 1 presets over the 8-vCPU cap "
                                     "(smt-3llc"))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "host-only, not expanded: on_host")) << out;
}

TEST_F(GauntletFakeDaemonTest, JobsCarryPresetTopologyProfileFlagsAndArgs) {
  std::string out, err;
  ASSERT_EQ(Gauntlet({"-E", "sched_fail", "--max-vcpus", "12", "--presets", "smt-3llc",
                      "--profiles", "default,llc+steal", "--label", "team=sched",
                      "--label", "preset=mine", "--json"},
                     &out, &err),
            1)
      << err;
  ktstr::v1::Run run;
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &run, o).ok()) << out;
  ASSERT_EQ(run.jobs_size(), 2);
  std::map<std::string, const ktstr::v1::JobSpec*> by_profile;
  for (const auto& j : run.jobs()) by_profile[j.spec().labels().at("profile")] = &j.spec();
  for (const auto& [profile, spec] : by_profile) {
    EXPECT_EQ(spec->labels().at("gauntlet"), "1");
    EXPECT_EQ(spec->labels().at("team"), "sched");         // --label
    EXPECT_EQ(spec->labels().at("preset"), "smt-3llc");    // the gauntlet's own wins
    EXPECT_EQ(spec->shape().topology().llcs(), 3u);
    EXPECT_EQ(spec->shape().topology().cores_per_llc(), 2u);
    EXPECT_EQ(spec->shape().topology().threads_per_core(), 2u);
    EXPECT_EQ(spec->scheduler().name(), "scx_fifo");
  }
  ASSERT_EQ(by_profile.size(), 2u);
  EXPECT_EQ(absl::StrJoin(by_profile["default"]->flags(), ","), "");
  EXPECT_EQ(absl::StrJoin(by_profile["default"]->scheduler().args(), " "), "--base");
  EXPECT_EQ(absl::StrJoin(by_profile["llc+steal"]->flags(), ","), "llc,steal");
  EXPECT_EQ(absl::StrJoin(by_profile["llc+steal"]->scheduler().args(), " "),
            "--base --llc --steal");
}

TEST_F(GauntletFakeDaemonTest, DryRunAsksTheDaemonForItsBudgetAndSubmitsNothing) {
  std::string before, out, err;
  ASSERT_EQ(RunClient(Socket(), *tmp_, {"stats", "list"}, &before), 0);
  EXPECT_EQ(Gauntlet({"--dry-run"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "vCPU cap: 8 (the daemon's vCPU budget)")) << out;
  EXPECT_TRUE(absl::StrContains(out, "gauntlet: 8 variants from 4 tests")) << out;
  // --budget: ktstr's selection, said on stderr; the plan holds only the chosen variants.
  EXPECT_EQ(Gauntlet({"--dry-run", "--budget", "30"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(err, "ktstr budget: 2/8 variants, 28/30s used")) << err;
  EXPECT_TRUE(absl::StrContains(out, "gauntlet: 2 variants")) << out;
  EXPECT_EQ(Gauntlet({"--dry-run", "--budget", "0"}, &out, &err), 2);
  EXPECT_TRUE(absl::StrContains(err, "--budget takes a positive number")) << err;
  // --json: the same plan for tooling, and only JSON on stdout.
  EXPECT_EQ(Gauntlet({"--dry-run", "--json"}, &out, &err), 0) << err;
  google::protobuf::Struct plan;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &plan).ok()) << out;
  EXPECT_EQ(plan.fields().at("vcpu_cap").number_value(), 8) << out;
  EXPECT_EQ(plan.fields().at("variants").list_value().values_size(), 8) << out;
  std::string after;
  ASSERT_EQ(RunClient(Socket(), *tmp_, {"stats", "list"}, &after), 0);
  EXPECT_EQ(before, after);
}

TEST_F(GauntletFakeDaemonTest, BadNamesAreUsageErrors) {
  std::string out, err;
  EXPECT_EQ(Gauntlet({"--label", "novalue"}, &out, &err), 2);
  EXPECT_TRUE(absl::StrContains(err, "--label takes KEY=VALUE")) << err;
  EXPECT_EQ(Gauntlet({"--presets", "tiny-1llc,huge"}, &out, &err), 2);
  EXPECT_TRUE(absl::StrContains(err, "unknown topology preset \"huge\"; known: tiny-1llc"))
      << err;
  EXPECT_EQ(Gauntlet({"--profiles", "borrow"}, &out, &err), 2);
  EXPECT_TRUE(absl::StrContains(err, "no selected test has a flag profile 'borrow' (they have: "
                                     "default, llc, llc+steal)"))
      << err;
  EXPECT_EQ(Gauntlet({"--max-vcpus", "0"}, &out, &err), 2);
  EXPECT_EQ(Gauntlet({"--presets"}, &out, &err), 2);
  EXPECT_TRUE(absl::StrContains(err, "--presets needs a value")) << err;
  EXPECT_EQ(Gauntlet({"-E", "nothing_like_this"}, &out, &err), 2);
  EXPECT_TRUE(absl::StrContains(err, "no test matches -E nothing_like_this")) << err;
  // A cap nothing fits: nothing to run, with the reasons.
  EXPECT_EQ(Gauntlet({"--max-vcpus", "2"}, &out, &err), 2);
  EXPECT_TRUE(absl::StrContains(err, "nothing to run")) << err;
  EXPECT_TRUE(absl::StrContains(err, "skipped over the 2-vCPU cap")) << err;
}

}  // namespace
}  // namespace ktstr::client
