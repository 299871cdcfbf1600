#include "client/gauntlet_matrix.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "vmm/topology.h"

namespace ktstr::client {
namespace {

std::string Label(const ktstr::v1::JobSpec& spec, const char* key) {
  auto it = spec.labels().find(key);
  return it == spec.labels().end() ? std::string() : it->second;
}

// Column order: vmm's preset order; unknown names (another client's presets) after them.
int PresetRank(const std::string& name) {
  const auto& all = vmm::AllPresets();
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].name == name) return static_cast<int>(i);
  }
  return static_cast<int>(all.size());
}

}  // namespace

MatrixCell CellOf(const ktstr::v1::Job& job) {
  if (job.state() != ktstr::v1::JOB_STATE_FINISHED) return MatrixCell::kPending;
  switch (job.verdict().kind()) {
    case ktstr::v1::VERDICT_KIND_PASS:
      return MatrixCell::kPass;
    case ktstr::v1::VERDICT_KIND_SKIP:
      return MatrixCell::kSkip;
    case ktstr::v1::VERDICT_KIND_FAIL:
    case ktstr::v1::VERDICT_KIND_TIMEOUT:
    case ktstr::v1::VERDICT_KIND_VM_CRASH:
    case ktstr::v1::VERDICT_KIND_SCHED_DIED:
    case ktstr::v1::VERDICT_KIND_SCHED_NOT_ATTACHED:
    case ktstr::v1::VERDICT_KIND_SCHED_EJECTED:
      return MatrixCell::kFail;
    case ktstr::v1::VERDICT_KIND_UNSPECIFIED:
    case ktstr::v1::VERDICT_KIND_INFRA_ERROR:
    case ktstr::v1::VERDICT_KIND_CANCELLED:
    case ktstr::v1::VERDICT_KIND_INTERRUPTED:
    default:  // a kind newer than this client: not a verdict it can vouch for
      return MatrixCell::kError;
  }
}

const char* CellWord(MatrixCell cell) {
  switch (cell) {
    case MatrixCell::kPass:
      return "PASS";
    case MatrixCell::kFail:
      return "FAIL";
    case MatrixCell::kSkip:
      return "SKIP";
    case MatrixCell::kError:
      return "ERR";
    case MatrixCell::kPending:
      return "...";
  }
  return "?";
}

std::string FormatGauntletMatrix(const ktstr::v1::Run& run) {
  std::set<std::string> binaries;
  for (const ktstr::v1::Job& j : run.jobs()) {
    if (Label(j.spec(), "gauntlet") == "1") binaries.insert(Label(j.spec(), "binary"));
  }
  std::vector<std::string> rows, columns;
  std::map<std::pair<std::string, std::string>, std::string> cells;
  for (const ktstr::v1::Job& j : run.jobs()) {
    const ktstr::v1::JobSpec& s = j.spec();
    if (Label(s, "gauntlet") != "1") continue;
    std::string row = absl::StrCat(binaries.size() > 1 ? Label(s, "binary") + " " : "",
                                   s.test_name(), "/", Label(s, "profile"));
    if (!Label(s, "kernel").empty()) absl::StrAppend(&row, "/", Label(s, "kernel"));
    const std::string col = Label(s, "preset");
    if (std::find(rows.begin(), rows.end(), row) == rows.end()) rows.push_back(row);
    if (std::find(columns.begin(), columns.end(), col) == columns.end()) columns.push_back(col);
    cells[{row, col}] = CellWord(CellOf(j));
  }
  if (rows.empty()) return "";
  std::stable_sort(columns.begin(), columns.end(), [](const std::string& a, const std::string& b) {
    return PresetRank(a) < PresetRank(b);
  });
  size_t row_w = std::string("test/profile").size();
  for (const std::string& r : rows) row_w = std::max(row_w, r.size());
  std::string out = absl::StrFormat("%-*s", row_w, "test/profile");
  for (const std::string& c : columns) absl::StrAppend(&out, "  ", c);
  absl::StrAppend(&out, "\n");
  for (const std::string& r : rows) {
    absl::StrAppend(&out, absl::StrFormat("%-*s", row_w, r));
    for (const std::string& c : columns) {
      auto it = cells.find({r, c});
      absl::StrAppend(&out, absl::StrFormat("  %-*s", c.size(), it == cells.end() ? "-" : it->second));
    }
    // No trailing blanks after a short last cell.
    out.erase(out.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace ktstr::client
