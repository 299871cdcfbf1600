// Reading the kernel's sched_ext lines: which scheduler was enabled, and how it was disabled.
//
// The kernel (kernel/sched/ext/ext.c, scx_log_sched_disable) prints, on every disable:
//   sched_ext: BPF scheduler "NAME" disabled (REASON)        info for unregister/sysrq, err else
//   sched_ext: NAME: MESSAGE                                  err only, when a message exists
// and on enable `sched_ext: BPF scheduler "NAME" enabled` (optionally " (partial)"). REASON is
// one of the fixed strings of scx_exit_reason(); only MESSAGE tells a stall ("COMM[PID] failed
// to run for 7.544s") from a livelock ("watchdog failed to check in for 5.004s"), and a runtime
// error that is really an RCU stall ("RCU CPU stall on CPUs (0-3)") from other runtime errors.
// Lines are matched exactly by shape (prefix, quoted name, parenthesised reason), never by
// loose substring search. guest_agent/README.md lists the lines as measured on 7.3.
#ifndef KTSTR_GUEST_AGENT_SCHED_SCHED_EXT_LOG_H_
#define KTSTR_GUEST_AGENT_SCHED_SCHED_EXT_LOG_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/ktstr/v1/verdict.pb.h"

namespace ktstr::agent {

// One parsed sched_ext line.
struct SchedExtLine {
  enum class Type { kEnabled, kDisabled, kMessage };
  Type type;
  std::string ops_name;
  std::string text;  // kDisabled: the REASON; kMessage: the MESSAGE; kEnabled: ""
};

// Parses one kernel log message (no "<prio>" or kmsg header). nullopt for any other line.
std::optional<SchedExtLine> ParseSchedExtLine(absl::string_view message);

// Maps the kernel's exit REASON (and MESSAGE, which decides the RCU-stall form) to the closed
// exit kind. Unknown reasons are SCHED_EXIT_KIND_OTHER.
ktstr::v1::SchedExitKind SchedExitKindFromReason(absl::string_view reason,
                                                 absl::string_view message);

// True for the kinds that mean the kernel threw the scheduler out (errors, sysrq); false for
// NONE, UNSPECIFIED and UNREGISTERED (the loader detached on its own or when asked).
bool IsEjection(ktstr::v1::SchedExitKind kind);

// Follows the kernel log for one scheduler: feed every message in order.
class SchedExtLogTracker {
 public:
  // ops_name "" follows whichever scheduler the log names first.
  explicit SchedExtLogTracker(std::string ops_name) : ops_name_(std::move(ops_name)) {}

  void Feed(absl::string_view message);

  const std::string& ops_name() const { return ops_name_; }
  bool enabled_seen() const { return enabled_seen_; }
  bool disabled_seen() const { return disabled_seen_; }
  // Valid once disabled_seen(): REASON, MESSAGE ("" if none yet) and the kind they map to.
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  ktstr::v1::SchedExitKind kind() const;

 private:
  std::string ops_name_;
  bool enabled_seen_ = false;
  bool disabled_seen_ = false;
  std::string reason_;
  std::string message_;
};

// The verifier's complaint in a loader's output (libbpf prints the log between
// "-- BEGIN PROG LOAD LOG --" and "-- END PROG LOAD LOG --"), as
// "prog 'NAME': <last error line>"; nullopt when the output holds no verifier log.
std::optional<std::string> ExtractVerifierError(absl::string_view loader_output);

// The loader's own report of the kernel's exit record, as the kernel's tools/sched_ext loaders
// print it (user_exit_info.h UEI_REPORT): "EXIT: REASON" or "EXIT: REASON (MESSAGE)…". Used only
// when the kernel log is unavailable. Returns {REASON, MESSAGE}.
std::optional<std::pair<std::string, std::string>> ParseLoaderExitLine(
    absl::string_view loader_output);

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_SCHED_SCHED_EXT_LOG_H_
