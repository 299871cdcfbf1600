#include "guest_agent/sched/sched_ext_log.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ktstr::agent {
namespace {

using ktstr::v1::SchedExitKind;

constexpr absl::string_view kPrefix = "sched_ext: ";
// scx_log_sched_disable() says "scheduler" for the root and "sub-scheduler" for nested ones.
constexpr absl::string_view kSchedulerWords[] = {"BPF scheduler \"", "BPF sub-scheduler \""};

// The message of a runtime error raised by the RCU stall detector (scx_rcu_cpu_stall).
constexpr absl::string_view kRcuStallMessage = "RCU CPU stall on CPUs (";

}  // namespace

std::optional<SchedExtLine> ParseSchedExtLine(absl::string_view message) {
  message = absl::StripTrailingAsciiWhitespace(message);
  if (!absl::ConsumePrefix(&message, kPrefix)) return std::nullopt;

  for (absl::string_view words : kSchedulerWords) {
    absl::string_view rest = message;
    if (!absl::ConsumePrefix(&rest, words)) continue;
    size_t quote = rest.find('"');
    if (quote == absl::string_view::npos || quote == 0) return std::nullopt;
    std::string name(rest.substr(0, quote));
    rest.remove_prefix(quote + 1);
    if (rest == " enabled" || rest == " enabled (partial)") {
      return SchedExtLine{SchedExtLine::Type::kEnabled, std::move(name), ""};
    }
    if (absl::ConsumePrefix(&rest, " disabled (") && absl::ConsumeSuffix(&rest, ")") &&
        !rest.empty()) {
      return SchedExtLine{SchedExtLine::Type::kDisabled, std::move(name), std::string(rest)};
    }
    return std::nullopt;
  }

  // "NAME: MESSAGE". Names cannot hold ": " (the kernel validates them as identifiers), and
  // the kernel's own "sched_ext: Soft lockup - …" style lines have no ": " right after a word.
  size_t sep = message.find(": ");
  if (sep == absl::string_view::npos || sep == 0) return std::nullopt;
  absl::string_view name = message.substr(0, sep);
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
          c == '.')) {
      return std::nullopt;
    }
  }
  return SchedExtLine{SchedExtLine::Type::kMessage, std::string(name),
                      std::string(message.substr(sep + 2))};
}

SchedExitKind SchedExitKindFromReason(absl::string_view reason, absl::string_view message) {
  // The strings of scx_exit_reason() in kernel/sched/ext/ext.c.
  if (reason == "unregistered from user space") return ktstr::v1::SCHED_EXIT_KIND_UNREGISTERED;
  if (reason == "runnable task stall") return ktstr::v1::SCHED_EXIT_KIND_STALL;
  if (reason == "scx_bpf_error") return ktstr::v1::SCHED_EXIT_KIND_SCX_BPF_ERROR;
  if (reason == "disabled by sysrq-S") return ktstr::v1::SCHED_EXIT_KIND_SYSRQ;
  if (reason == "runtime error") {
    // The RCU stall detector can fire before the sched_ext watchdog; it is the same bug.
    return absl::StartsWith(message, kRcuStallMessage) ? ktstr::v1::SCHED_EXIT_KIND_STALL
                                                       : ktstr::v1::SCHED_EXIT_KIND_RUNTIME_ERROR;
  }
  // "unregistered from BPF", "unregistered from the main kernel", "parent exiting",
  // "killed by parent scheduler", "reenqueue limit", "rescue bandwidth overload", "<UNKNOWN>".
  return ktstr::v1::SCHED_EXIT_KIND_OTHER;
}

bool IsEjection(SchedExitKind kind) {
  switch (kind) {
    case ktstr::v1::SCHED_EXIT_KIND_STALL:
    case ktstr::v1::SCHED_EXIT_KIND_SCX_BPF_ERROR:
    case ktstr::v1::SCHED_EXIT_KIND_RUNTIME_ERROR:
    case ktstr::v1::SCHED_EXIT_KIND_SYSRQ:
    case ktstr::v1::SCHED_EXIT_KIND_OTHER:
      return true;
    default:
      return false;
  }
}

void SchedExtLogTracker::Feed(absl::string_view message) {
  std::optional<SchedExtLine> line = ParseSchedExtLine(message);
  if (!line) return;
  if (ops_name_.empty()) {
    if (line->type == SchedExtLine::Type::kMessage) return;  // cannot tell whose yet
    ops_name_ = line->ops_name;
  }
  if (line->ops_name != ops_name_) return;
  switch (line->type) {
    case SchedExtLine::Type::kEnabled:
      enabled_seen_ = true;
      break;
    case SchedExtLine::Type::kDisabled:
      if (!disabled_seen_) {  // the first disable is the one that counts
        disabled_seen_ = true;
        reason_ = line->text;
      }
      break;
    case SchedExtLine::Type::kMessage:
      // The message line follows its disable line; other "NAME: …" lines (e.g. the watchdog
      // timeout warning at enable) are not exit messages.
      if (disabled_seen_ && message_.empty()) message_ = line->text;
      break;
  }
}

SchedExitKind SchedExtLogTracker::kind() const {
  return disabled_seen_ ? SchedExitKindFromReason(reason_, message_)
                        : ktstr::v1::SCHED_EXIT_KIND_NONE;
}

std::optional<std::string> ExtractVerifierError(absl::string_view loader_output) {
  constexpr absl::string_view kBegin = "-- BEGIN PROG LOAD LOG --";
  constexpr absl::string_view kEnd = "-- END PROG LOAD LOG --";
  size_t begin = loader_output.find(kBegin);
  if (begin == absl::string_view::npos) return std::nullopt;
  // "libbpf: prog 'NAME': -- BEGIN PROG LOAD LOG --": take NAME from the same line.
  size_t line_start = loader_output.rfind('\n', begin);
  line_start = line_start == absl::string_view::npos ? 0 : line_start + 1;
  absl::string_view head = loader_output.substr(line_start, begin - line_start);
  std::string prog;
  if (size_t q = head.find("prog '"); q != absl::string_view::npos) {
    absl::string_view rest = head.substr(q + 6);
    prog = std::string(rest.substr(0, rest.find('\'')));
  }
  size_t body_start = begin + kBegin.size();
  size_t end = loader_output.find(kEnd, body_start);
  absl::string_view body = loader_output.substr(
      body_start, end == absl::string_view::npos ? absl::string_view::npos : end - body_start);
  // The verifier states the error on the line before its "processed N insns" summary.
  std::vector<absl::string_view> lines =
      absl::StrSplit(body, '\n', absl::SkipWhitespace());
  std::string error;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (absl::StartsWith(lines[i], "processed ") && i > 0) {
      error = std::string(absl::StripAsciiWhitespace(lines[i - 1]));
      break;
    }
  }
  if (error.empty() && !lines.empty()) {
    error = std::string(absl::StripAsciiWhitespace(lines.back()));
  }
  return prog.empty() ? error : "prog '" + prog + "': " + error;
}

std::optional<std::pair<std::string, std::string>> ParseLoaderExitLine(
    absl::string_view loader_output) {
  for (absl::string_view line : absl::StrSplit(loader_output, '\n')) {
    if (!absl::ConsumePrefix(&line, "EXIT: ")) continue;
    size_t open = line.find(" (");
    if (open == absl::string_view::npos) {
      size_t cut = line.find(" on CPU ");
      if (cut == absl::string_view::npos) cut = line.find(" [kind ");
      return std::make_pair(std::string(line.substr(0, cut)), std::string());
    }
    size_t close = line.rfind(')');
    std::string message =
        close != absl::string_view::npos && close > open
            ? std::string(line.substr(open + 2, close - open - 2))
            : std::string();
    return std::make_pair(std::string(line.substr(0, open)), std::move(message));
  }
  return std::nullopt;
}

}  // namespace ktstr::agent
