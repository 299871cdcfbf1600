// Submitting a run and following it to the end, shared by `test` and `gauntlet`: progress on
// stderr, one result line per finished job on stdout as verdicts arrive, re-attaching
// (WatchRun) when the stream breaks, then the stored run; and the closing output (summary or
// JSON, JUnit file) with the exit code.
#ifndef KTSTR_CLIENT_RUN_SESSION_H_
#define KTSTR_CLIENT_RUN_SESSION_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "client/arg_reader.h"
#include "client/connection.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace ktstr::client {

struct RunOutputOptions {
  bool json = false;     // print the finished run as JSON instead of lines and a summary
  bool verbose = false;  // VM assignments and the guest's output lines on stderr
  std::string junit;     // write JUnit XML here when not empty
};

// The options `test` and `gauntlet` share: -E/--filter, --duration, --json, --junit, -v.
struct SharedRunOptions {
  std::string filter;       // substring of the test name
  uint32_t duration_s = 0;  // 0 = each test's own
  std::map<std::string, std::string> labels;  // --label K=V, on every job
  RunOutputOptions output;
};
// True when the reader's current argument is one of them; a bad value is an INVALID_ARGUMENT
// in *status.
bool ParseSharedRunOption(ArgReader& r, SharedRunOptions* o, absl::Status* status);

// Submits `req` and returns the finished run as stored (GetRun). UNAVAILABLE when the daemon
// is lost for good before the run finishes.
absl::StatusOr<ktstr::v1::Run> SubmitAndFollow(Connection& conn, ktstr::v1::SubmitRunRequest req,
                                               const RunOutputOptions& o);

// Prints `before_summary` (text mode only), the summary line or the JSON, writes the JUnit
// file (suite `suite_name`), and returns the exit code: kExitTestsFailed when any job failed
// (skips are not failures, the nextest convention), else kExitOk.
int FinishRun(const ktstr::v1::Run& run, const RunOutputOptions& o, double wall_s,
              const std::string& suite_name, const std::string& before_summary = "");

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_RUN_SESSION_H_
