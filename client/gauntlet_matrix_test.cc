#include "client/gauntlet_matrix.h"

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "client/printer.h"
#include "gtest/gtest.h"

namespace ktstr::client {
namespace {

ktstr::v1::Job GauntletJob(const std::string& test, const std::string& preset,
                           const std::string& profile, ktstr::v1::VerdictKind kind,
                           const std::string& binary = "bin") {
  ktstr::v1::Job j;
  j.set_state(ktstr::v1::JOB_STATE_FINISHED);
  j.mutable_verdict()->set_kind(kind);
  j.mutable_spec()->set_test_name(test);
  auto& l = *j.mutable_spec()->mutable_labels();
  l["gauntlet"] = "1";
  l["preset"] = preset;
  l["profile"] = profile;
  l["binary"] = binary;
  return j;
}

std::vector<std::string> Lines(const std::string& s) {
  return absl::StrSplit(s, '\n', absl::SkipEmpty());
}

TEST(GauntletMatrixTest, EveryVerdictKindMapsToOneCell) {
  using K = ktstr::v1::VerdictKind;
  std::map<MatrixCell, int> seen;
  for (int k = ktstr::v1::VerdictKind_MIN; k <= ktstr::v1::VerdictKind_MAX; ++k) {
    ktstr::v1::Job j = GauntletJob("t", "tiny-1llc", "default", static_cast<K>(k));
    ++seen[CellOf(j)];
  }
  EXPECT_EQ(seen[MatrixCell::kPass], 1);
  EXPECT_EQ(seen[MatrixCell::kSkip], 1);
  EXPECT_EQ(seen[MatrixCell::kFail], 6);   // FAIL TIMEOUT VM_CRASH SCHED_*
  EXPECT_EQ(seen[MatrixCell::kError], 4);  // UNSPECIFIED INFRA_ERROR CANCELLED INTERRUPTED
  ktstr::v1::Job running = GauntletJob("t", "tiny-1llc", "default", ktstr::v1::VERDICT_KIND_PASS);
  running.set_state(ktstr::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(CellOf(running), MatrixCell::kPending);
  EXPECT_STREQ(CellWord(CellOf(GauntletJob("t", "p", "d", ktstr::v1::VERDICT_KIND_INFRA_ERROR))),
               "ERR");
}

TEST(GauntletMatrixTest, RowsAreTestProfileColumnsArePresetsInPresetOrder) {
  ktstr::v1::Run run;
  // Submitted out of preset order: columns still follow vmm::AllPresets().
  *run.add_jobs() = GauntletJob("steady", "tiny-2llc", "default", ktstr::v1::VERDICT_KIND_PASS);
  *run.add_jobs() = GauntletJob("steady", "tiny-1llc", "default", ktstr::v1::VERDICT_KIND_FAIL);
  *run.add_jobs() = GauntletJob("sched", "tiny-1llc", "llc", ktstr::v1::VERDICT_KIND_SKIP);
  *run.add_jobs() =
      GauntletJob("sched", "smt-2llc", "llc", ktstr::v1::VERDICT_KIND_SCHED_EJECTED);
  *run.add_jobs() =
      GauntletJob("sched", "tiny-2llc", "llc", ktstr::v1::VERDICT_KIND_INFRA_ERROR);
  ktstr::v1::Job plain;  // a non-gauntlet job in the same run is not in the matrix
  plain.mutable_spec()->set_test_name("plain");
  *run.add_jobs() = plain;
  std::vector<std::string> lines = Lines(FormatGauntletMatrix(run));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "test/profile    tiny-1llc  tiny-2llc  smt-2llc");
  EXPECT_EQ(lines[1], "steady/default  FAIL       PASS       -");
  EXPECT_EQ(lines[2], "sched/llc       SKIP       ERR        FAIL");
}

TEST(GauntletMatrixTest, SeveralBinariesAndKernelsGetTheirOwnRows) {
  ktstr::v1::Run run;
  ktstr::v1::Job a = GauntletJob("t", "tiny-1llc", "default", ktstr::v1::VERDICT_KIND_PASS, "b1");
  (*a.mutable_spec()->mutable_labels())["kernel"] = "7.3.4";
  ktstr::v1::Job b = GauntletJob("t", "tiny-1llc", "default", ktstr::v1::VERDICT_KIND_FAIL, "b2");
  (*b.mutable_spec()->mutable_labels())["kernel"] = "7.3.4";
  *run.add_jobs() = a;
  *run.add_jobs() = b;
  std::vector<std::string> lines = Lines(FormatGauntletMatrix(run));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(absl::StartsWith(lines[1], "b1 t/default/7.3.4  PASS")) << lines[1];
  EXPECT_TRUE(absl::StartsWith(lines[2], "b2 t/default/7.3.4  FAIL")) << lines[2];
  EXPECT_EQ(JobDisplayName(a.spec()), "gauntlet/t/tiny-1llc/default/7.3.4");
}

TEST(GauntletMatrixTest, NoGauntletJobsNoMatrix) {
  ktstr::v1::Run run;
  run.add_jobs()->mutable_spec()->set_test_name("plain");
  EXPECT_EQ(FormatGauntletMatrix(run), "");
  EXPECT_EQ(JobDisplayName(run.jobs(0).spec()), "ktstr/plain");
}

TEST(GauntletMatrixTest, JobLinesUseTheVariantName) {
  ktstr::v1::Job j = GauntletJob("steady", "tiny-2llc", "default", ktstr::v1::VERDICT_KIND_PASS);
  j.set_wall_s(1.5);
  EXPECT_EQ(FormatJobResult(j, "example_tests"),
            "    PASS [   1.50s] example_tests gauntlet/steady/tiny-2llc/default\n");
}

}  // namespace
}  // namespace ktstr::client
