#include "client/printer.h"

#include "client/junit.h"
#include "client/topology_arg.h"
#include "gtest/gtest.h"

namespace ktstr::client {
namespace {

ktstr::v1::Job MakeJob(ktstr::v1::VerdictKind kind) {
  ktstr::v1::Job j;
  j.mutable_spec()->set_test_name("two_groups");
  j.set_topology("1n2l4c1t");
  j.set_wall_s(2.31);
  j.mutable_verdict()->set_kind(kind);
  return j;
}

TEST(Printer, PassLineHasTheSeedsForm) {
  EXPECT_EQ(FormatJobResult(MakeJob(ktstr::v1::VERDICT_KIND_PASS), "example_tests"),
            "    PASS [   2.31s] example_tests ktstr/two_groups\n");
}

TEST(Printer, FailureShowsReasonAndStatsBlock) {
  ktstr::v1::Job j = MakeJob(ktstr::v1::VERDICT_KIND_FAIL);
  j.mutable_verdict()->set_reason("stuck 3500ms on cpu1 at +1200ms");
  j.mutable_verdict()->mutable_report()->set_stats_text("4 workers, 2 cpus\n  cg_0: spread 3%");
  std::string out = FormatJobResult(j, "example_tests");
  EXPECT_EQ(out,
            "    FAIL [   2.31s] example_tests ktstr/two_groups\n"
            "      ktstr_test 'two_groups' [sched=eevdf] [topo=1n2l4c1t] failed: stuck 3500ms"
            " on cpu1 at +1200ms\n"
            "      --- stats ---\n"
            "      4 workers, 2 cpus\n"
            "        cg_0: spread 3%\n");
}

TEST(Printer, SchedulerJobsNameTheSchedulerAndShowTheLoaderLogTail) {
  ktstr::v1::Job pass = MakeJob(ktstr::v1::VERDICT_KIND_PASS);
  pass.mutable_spec()->mutable_scheduler()->set_name("scx_fifo");
  EXPECT_EQ(FormatJobResult(pass, "t"), "    PASS [   2.31s] t ktstr/two_groups [sched=scx_fifo]\n");

  ktstr::v1::Job j = MakeJob(ktstr::v1::VERDICT_KIND_SCHED_EJECTED);
  j.mutable_spec()->mutable_scheduler()->set_name("scx_fifo");
  j.mutable_verdict()->set_reason(
      "scheduler ejected: runnable task stall: sh[133] failed to run for 3.496s");
  std::string log;
  for (int i = 1; i <= 45; ++i) log += "line " + std::to_string(i) + "\n";
  j.mutable_verdict()->mutable_scheduler()->set_log_excerpt(log);
  std::string out = FormatJobResult(j, "t");
  EXPECT_NE(out.find("[sched=scx_fifo] [topo=1n2l4c1t] failed: scheduler ejected: runnable "
                     "task stall: sh[133] failed to run for 3.496s\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("      --- scheduler log (scx_fifo) ---\n      [... 5 earlier lines]\n"
                     "      line 6\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("      line 45\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("line 5\n"), std::string::npos) << out;
}

TEST(Printer, CrashShowsConsoleExcerpt) {
  ktstr::v1::Job j = MakeJob(ktstr::v1::VERDICT_KIND_VM_CRASH);
  j.mutable_verdict()->set_reason("kernel panic: Kernel panic - not syncing: sysrq");
  j.mutable_verdict()->set_console_excerpt("[ 3.1] Kernel panic - not syncing: sysrq");
  std::string out = FormatJobResult(j, "t");
  EXPECT_NE(out.find("   CRASH ["), std::string::npos) << out;
  EXPECT_NE(out.find("--- console ---\n      [ 3.1] Kernel panic"), std::string::npos) << out;
}

TEST(Printer, Summary) {
  ktstr::v1::Run r;
  r.set_run_id("R");
  r.set_jobs_passed(2);
  r.set_jobs_failed(1);
  EXPECT_EQ(FormatSummary(r, 12.345),
            " Summary [  12.35s] 3 tests run: 2 passed, 1 failed, 0 skipped (run R)\n");
}

TEST(Junit, FailuresAndEscaping) {
  ktstr::v1::Run r;
  r.set_run_id("R");
  *r.add_jobs() = MakeJob(ktstr::v1::VERDICT_KIND_PASS);
  ktstr::v1::Job f = MakeJob(ktstr::v1::VERDICT_KIND_TIMEOUT);
  f.mutable_verdict()->set_reason("timed out <after> 90s & more");
  *r.add_jobs() = f;
  std::string xml = JunitXml(r, "example_tests");
  EXPECT_NE(xml.find("tests=\"2\" failures=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("type=\"TIMEOUT\" message=\"timed out &lt;after&gt; 90s &amp; more\""),
            std::string::npos) << xml;
}

TEST(TopologyArg, BothFormsAndErrors) {
  auto a = ParseTopologyArg("1,2,4,1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->llcs(), 2u);
  EXPECT_EQ(a->cores_per_llc(), 4u);
  auto b = ParseTopologyArg("2n4l2c2t");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->numa_nodes(), 2u);
  EXPECT_EQ(b->threads_per_core(), 2u);
  EXPECT_EQ(ParseTopologyArg("1,2,4").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTopologyArg("1,0,4,1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTopologyArg("big").status().code(), absl::StatusCode::kInvalidArgument);
  // vmm's rules and presets: LLCs must divide into nodes; presets resolve by name.
  EXPECT_EQ(ParseTopologyArg("2,3,2,1").status().code(), absl::StatusCode::kInvalidArgument);
  auto p = ParseTopologyArg("tiny-2llc");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->llcs(), 2u);
  EXPECT_EQ(p->cores_per_llc(), 2u);
}

}  // namespace
}  // namespace ktstr::client
