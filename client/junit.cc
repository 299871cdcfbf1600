#include "client/junit.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/printer.h"

namespace ktstr::client {
namespace {

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') continue;
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string JunitXml(const ktstr::v1::Run& run, const std::string& suite_name) {
  std::string cases;
  uint32_t failures = 0, skipped = 0;
  double total = 0;
  for (const auto& j : run.jobs()) {
    const auto& v = j.verdict();
    total += j.wall_s();
    absl::StrAppend(&cases, absl::StrFormat("    <testcase classname=\"%s\" name=\"%s\" time=\"%.3f\">\n",
                                           Escape(suite_name), Escape(JobDisplayName(j.spec())),
                                           j.wall_s()));
    if (v.kind() == ktstr::v1::VERDICT_KIND_SKIP) {
      ++skipped;
      absl::StrAppend(&cases, "      <skipped message=\"", Escape(v.reason()), "\"/>\n");
    } else if (v.kind() != ktstr::v1::VERDICT_KIND_PASS) {
      ++failures;
      absl::StrAppend(&cases, "      <failure type=\"", StatusWord(v.kind()), "\" message=\"",
                      Escape(v.reason()), "\">", Escape(v.report().stats_text()),
                      v.console_excerpt().empty() ? "" : "\n", Escape(v.console_excerpt()),
                      "</failure>\n");
    }
    absl::StrAppend(&cases, "    </testcase>\n");
  }
  return absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n",
      absl::StrFormat("  <testsuite name=\"%s\" tests=\"%d\" failures=\"%u\" skipped=\"%u\" "
                      "time=\"%.3f\" id=\"%s\">\n",
                      Escape(suite_name), run.jobs_size(), failures, skipped, total,
                      Escape(run.run_id())),
      cases, "  </testsuite>\n</testsuites>\n");
}

}  // namespace ktstr::client
