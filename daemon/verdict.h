// The verdict rule: one pure function from everything observed about a job to its Verdict.
#ifndef KTSTR_DAEMON_VERDICT_H_
#define KTSTR_DAEMON_VERDICT_H_

#include <optional>
#include <string>

#include "proto/ktstr/agent/v1/agent.pb.h"
#include "proto/ktstr/v1/verdict.pb.h"
#include "proto/verdict_names.h"

namespace ktstr::daemon {

// Why the dispatcher stopped a job early, closed set.
enum class AbortReason {
  kNone,
  kCancelled,    // the run was cancelled by its owner (or root)
  kTimeout,      // the job exceeded duration + boot + slack; its VM was killed
  kShutdown,     // the daemon is stopping
};

// A crash seen on the guest console (filled from the vmm crash detector).
struct CrashObservation {
  ktstr::v1::CrashKind kind = ktstr::v1::CRASH_KIND_UNSPECIFIED;
  std::string headline;   // the matched line, e.g. "Kernel panic - not syncing: sysrq"
  std::string excerpt;    // console lines around it
};

// Everything known about a finished job.
struct VerdictInputs {
  AbortReason abort = AbortReason::kNone;
  // The agent's answer to RunTest; absent when the agent never answered.
  std::optional<ktstr::agent::v1::TestResult> agent_result;
  // The most severe console crash, if any.
  std::optional<CrashObservation> crash;
  // ktstr's own failure (VM could not be obtained, upload to the guest failed, agent lost).
  std::string infra_error;
  // The last console lines, kept as the excerpt when nothing more specific exists.
  std::string console_tail;
  uint32_t timeout_s = 0;  // for the TIMEOUT reason text
};

// Precedence (first match wins): cancel/shutdown; a fatal console crash (it also explains a
// timeout or a lost agent); timeout; infra error; the scheduler's fate (died, never attached,
// ejected); the test's own report (PASS/FAIL/SKIP); the test process's exit without a
// report (INFRA_ERROR). A WARNING on the console of a passing job keeps PASS but records
// crash_kind = WARNING and the excerpt.
ktstr::v1::Verdict MergeVerdict(const VerdictInputs& in);

// True for crash kinds that end the guest (everything but WARNING).
bool IsFatalCrash(ktstr::v1::CrashKind kind);


}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_VERDICT_H_
