#include "vmm/crash_detector.h"

#include <cctype>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace ktstr::vmm {
namespace {

// Drops "[   12.345678] " (printk time) and "<4>" (raw level) prefixes and trailing \r.
absl::string_view StripPrefix(absl::string_view line) {
  line = absl::StripTrailingAsciiWhitespace(line);
  if (line.size() >= 3 && line[0] == '<' && std::isdigit(static_cast<unsigned char>(line[1])) &&
      line[2] == '>') {
    line.remove_prefix(3);
  }
  if (!line.empty() && line[0] == '[') {
    size_t close = line.find(']');
    if (close != absl::string_view::npos) {
      absl::string_view inside = line.substr(1, close - 1);
      bool is_time = !inside.empty();
      for (char c : inside)
        is_time = is_time &&
                  (std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == ' ' || c == 'T');
      if (is_time) line = absl::StripLeadingAsciiWhitespace(line.substr(close + 1));
    }
  }
  return line;
}

absl::string_view After(absl::string_view line, absl::string_view marker) {
  size_t pos = line.find(marker);
  return pos == absl::string_view::npos ? absl::string_view() : line.substr(pos + marker.size());
}

SchedExtExitKind ClassifySchedExtReason(absl::string_view reason) {
  if (absl::StartsWith(reason, "unregistered")) return SchedExtExitKind::kUnregistered;
  if (reason == "runnable task stall") return SchedExtExitKind::kStall;
  if (reason == "scx_bpf_error") return SchedExtExitKind::kBpfError;
  if (reason == "runtime error") return SchedExtExitKind::kRuntimeError;
  if (absl::StrContains(reason, "sysrq")) return SchedExtExitKind::kSysrq;
  return SchedExtExitKind::kOther;
}

// `sched_ext: BPF scheduler "NAME" disabled (REASON)`.
std::optional<CrashEvent> ParseSchedExt(absl::string_view line) {
  static constexpr absl::string_view kPrefix = "sched_ext: BPF scheduler \"";
  size_t start = line.find(kPrefix);
  if (start == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = line.substr(start + kPrefix.size());
  size_t quote = rest.find('"');
  if (quote == absl::string_view::npos) return std::nullopt;
  absl::string_view name = rest.substr(0, quote);
  absl::string_view tail = rest.substr(quote + 1);
  if (!absl::ConsumePrefix(&tail, " disabled (") || !absl::ConsumeSuffix(&tail, ")")) {
    return std::nullopt;
  }
  CrashEvent e{.kind = CrashKind::kSchedExtExit, .line = std::string(line)};
  e.scheduler = std::string(name);
  e.reason = std::string(tail);
  e.sched_ext_exit = ClassifySchedExtReason(tail);
  return e;
}

CrashEvent Make(CrashKind kind, absl::string_view line, absl::string_view reason) {
  return CrashEvent{.kind = kind, .line = std::string(line), .reason = std::string(reason)};
}

}  // namespace

absl::string_view CrashKindName(CrashKind kind) {
  switch (kind) {
    case CrashKind::kKernelPanic:
      return "kernel_panic";
    case CrashKind::kBug:
      return "bug";
    case CrashKind::kWarning:
      return "warning";
    case CrashKind::kGeneralProtectionFault:
      return "general_protection_fault";
    case CrashKind::kOops:
      return "oops";
    case CrashKind::kRcuStall:
      return "rcu_stall";
    case CrashKind::kSoftLockup:
      return "soft_lockup";
    case CrashKind::kHardLockup:
      return "hard_lockup";
    case CrashKind::kHungTask:
      return "hung_task";
    case CrashKind::kSchedExtExit:
      return "sched_ext_exit";
  }
  return "unknown";
}

bool IsFatal(CrashKind kind) {
  return kind != CrashKind::kWarning && kind != CrashKind::kSchedExtExit;
}

std::optional<CrashEvent> ClassifyLine(absl::string_view raw) {
  absl::string_view line = StripPrefix(raw);
  if (line.empty()) return std::nullopt;
  if (absl::StrContains(line, "Kernel panic - not syncing")) {
    absl::string_view reason = After(line, "not syncing");
    absl::ConsumePrefix(&reason, ":");
    return Make(CrashKind::kKernelPanic, line, absl::StripLeadingAsciiWhitespace(reason));
  }
  if (absl::StrContains(line, "BUG: soft lockup")) {
    return Make(CrashKind::kSoftLockup, line, After(line, "BUG: "));
  }
  if (absl::StrContains(line, "hard LOCKUP")) {
    return Make(CrashKind::kHardLockup, line, line);
  }
  // Newer kernels print "Oops: general protection fault, ..."; the GPF is the useful part.
  if (absl::StrContains(line, "general protection fault")) {
    return Make(CrashKind::kGeneralProtectionFault, line, line);
  }
  if (absl::StartsWith(line, "kernel BUG at ")) {
    return Make(CrashKind::kBug, line, line);
  }
  if (absl::StartsWith(line, "BUG: ") || absl::StrContains(line, "] BUG: ")) {
    return Make(CrashKind::kBug, line, After(line, "BUG: "));
  }
  if (absl::StartsWith(line, "Oops: ") || absl::StrContains(line, " Oops: ")) {
    return Make(CrashKind::kOops, line, After(line, "Oops: "));
  }
  if (absl::StartsWith(line, "WARNING: ")) {
    return Make(CrashKind::kWarning, line, After(line, "WARNING: "));
  }
  if (absl::StrContains(line, "rcu: INFO:") &&
      (absl::StrContains(line, "detected stall") || absl::StrContains(line, "self-detected"))) {
    return Make(CrashKind::kRcuStall, line, After(line, "INFO: "));
  }
  if (absl::StartsWith(line, "INFO: task ") && absl::StrContains(line, "blocked for more than")) {
    return Make(CrashKind::kHungTask, line, After(line, "INFO: "));
  }
  if (auto scx = ParseSchedExt(line)) return scx;
  return std::nullopt;
}

std::vector<CrashEvent> CrashDetector::Feed(absl::string_view data) {
  std::vector<CrashEvent> out;
  for (char c : data) {
    if (partial_.empty()) partial_offset_ = consumed_;
    ++consumed_;
    if (c == '\n') {
      HandleLine(partial_, partial_offset_, &out);
      partial_.clear();
    } else if (partial_.size() < 4096) {  // a runaway line without newlines stays bounded
      partial_.push_back(c);
    }
  }
  return out;
}

std::vector<CrashEvent> CrashDetector::Finish() {
  std::vector<CrashEvent> out;
  if (!partial_.empty()) HandleLine(partial_, partial_offset_, &out);
  partial_.clear();
  return out;
}

void CrashDetector::HandleLine(absl::string_view line, uint64_t offset,
                               std::vector<CrashEvent>* out) {
  absl::string_view stripped = StripPrefix(line);
  // The detail line of a sched_ext exit: "sched_ext: NAME: msg" right after the exit line.
  if (pending_sched_ext_) {
    CrashEvent& e = events_[*pending_sched_ext_];
    const std::string prefix = absl::StrCat("sched_ext: ", e.scheduler, ": ");
    pending_sched_ext_.reset();
    if (absl::StartsWith(stripped, prefix)) {
      e.detail = std::string(stripped.substr(prefix.size()));
      for (CrashEvent& o : *out) {
        if (o.offset == e.offset) o.detail = e.detail;
      }
      return;
    }
  }
  std::optional<CrashEvent> e = ClassifyLine(line);
  if (!e) return;
  e->offset = offset;
  events_.push_back(*e);
  out->push_back(*e);
  if (e->kind == CrashKind::kSchedExtExit) pending_sched_ext_ = events_.size() - 1;
}

}  // namespace ktstr::vmm
