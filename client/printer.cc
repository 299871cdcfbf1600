#include "client/printer.h"

#include "proto/verdict_names.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace ktstr::client {

std::string StatusWord(ktstr::v1::VerdictKind kind) { return ktstr::v1::VerdictKindName(kind); }

std::string JobDisplayName(const ktstr::v1::JobSpec& spec) {
  const auto& labels = spec.labels();
  auto label = [&](const char* k) {
    auto it = labels.find(k);
    return it == labels.end() ? std::string() : it->second;
  };
  if (label("gauntlet") != "1") return absl::StrCat("ktstr/", spec.test_name());
  std::string name =
      absl::StrCat("gauntlet/", spec.test_name(), "/", label("preset"), "/", label("profile"));
  if (!label("kernel").empty()) absl::StrAppend(&name, "/", label("kernel"));
  return name;
}

namespace {
namespace config {
// The tail of the loader's log shown under a failed job: enough for the EXIT line and the
// start of the debug dump; the whole log is in the stored verdict (`ktstr-client stats show`).
inline constexpr size_t kSchedulerLogLines = 40;
}  // namespace config

std::string LastLines(const std::string& text, size_t n) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  if (lines.size() <= n) return text;
  return absl::StrCat("[... ", lines.size() - n, " earlier lines]\n",
                      absl::StrJoin(lines.end() - n, lines.end(), "\n"));
}

void AppendIndented(std::string* out, const std::string& text, const char* indent) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!line.empty()) absl::StrAppend(out, indent, line, "\n");
  }
}
}  // namespace

std::string FormatJobResult(const ktstr::v1::Job& job, const std::string& binary) {
  const ktstr::v1::Verdict& v = job.verdict();
  std::string sched = job.spec().scheduler().name().empty() ? "eevdf"
                                                            : job.spec().scheduler().name();
  // EEVDF lines stay as they were; a sched_ext job names its scheduler on the line.
  std::string out = absl::StrFormat(
      "%8s [%7.2fs] %s %s%s\n", StatusWord(v.kind()), job.wall_s(), binary,
      JobDisplayName(job.spec()),
      job.spec().scheduler().name().empty() ? "" : absl::StrCat(" [sched=", sched, "]"));
  if (v.kind() == ktstr::v1::VERDICT_KIND_PASS) return out;
  if (v.kind() != ktstr::v1::VERDICT_KIND_SKIP) {
    absl::StrAppend(&out, "      ktstr_test '", job.spec().test_name(), "' [sched=", sched,
                    "] [topo=", job.topology(), "] failed: ", v.reason(), "\n");
    for (int i = 1; i < v.report().details_size(); ++i) {
      absl::StrAppend(&out, "        ", v.report().details(i).message(), "\n");
    }
  } else {
    absl::StrAppend(&out, "      ", v.reason(), "\n");
  }
  if (!v.report().stats_text().empty() && v.kind() != ktstr::v1::VERDICT_KIND_SKIP) {
    absl::StrAppend(&out, "      --- stats ---\n");
    AppendIndented(&out, v.report().stats_text(), "      ");
  }
  // The loader's own output (the kernel's exit record and debug dump go there), for any
  // verdict the scheduler decided or took part in.
  if (!v.scheduler().log_excerpt().empty()) {
    absl::StrAppend(&out, "      --- scheduler log (", sched, ") ---\n");
    AppendIndented(&out, LastLines(v.scheduler().log_excerpt(), config::kSchedulerLogLines),
                   "      ");
  }
  if (!v.console_excerpt().empty()) {
    absl::StrAppend(&out, "      --- console ---\n");
    AppendIndented(&out, v.console_excerpt(), "      ");
  }
  if (!job.console_log_path().empty()) {
    absl::StrAppend(&out, "      console log: ", job.console_log_path(), "\n");
  }
  return out;
}

std::string FormatSummary(const ktstr::v1::Run& run, double wall_s) {
  uint32_t run_n = run.jobs_passed() + run.jobs_failed() + run.jobs_skipped();
  return absl::StrFormat("%8s [%7.2fs] %u tests run: %u passed, %u failed, %u skipped (run %s)\n",
                         "Summary", wall_s, run_n, run.jobs_passed(), run.jobs_failed(),
                         run.jobs_skipped(), run.run_id());
}

std::string FormatRunDetail(const ktstr::v1::Run& run) {
  std::string out = absl::StrCat(
      "run ", run.run_id(), " by ", run.owner().user_name(), " (uid ", run.owner().uid(),
      "), ", absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMillis(run.created_unix_ms()),
                              absl::UTCTimeZone()),
      ", ", run.arch(), "\n");
  if (!run.description().empty()) absl::StrAppend(&out, "  ", run.description(), "\n");
  for (const auto& j : run.jobs()) {
    if (j.state() != ktstr::v1::JOB_STATE_FINISHED) {
      absl::StrAppend(&out, absl::StrFormat("%8s           %s %s\n", "PENDING", j.topology(),
                                            JobDisplayName(j.spec())));
      continue;
    }
    absl::StrAppend(&out, FormatJobResult(j, j.topology()));
  }
  absl::StrAppend(&out, absl::StrFormat("%u jobs: %u passed, %u failed, %u skipped\n",
                                        run.jobs_total(), run.jobs_passed(), run.jobs_failed(),
                                        run.jobs_skipped()));
  return out;
}

}  // namespace ktstr::client
