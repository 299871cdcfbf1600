// What ktstr-client prints for a run: one nextest-style line per test,
//   "    PASS [  2.31s] example_tests ktstr/two_groups"
// failure reasons and the "--- stats ---" block under a failing line, and a summary.
#ifndef KTSTR_CLIENT_PRINTER_H_
#define KTSTR_CLIENT_PRINTER_H_

#include <string>

#include "proto/ktstr/v1/run.pb.h"

namespace ktstr::client {

// How a job is named in output: "ktstr/NAME", or for a gauntlet variant (label
// gauntlet=1) "gauntlet/NAME/PRESET/PROFILE", with "/KERNEL" when the job has a kernel label.
std::string JobDisplayName(const ktstr::v1::JobSpec& spec);
// The status word: PASS, FAIL, SKIP, TIMEOUT, CRASH, ...
std::string StatusWord(ktstr::v1::VerdictKind kind);
// The line(s) for one finished job; `binary` is the test binary's basename.
std::string FormatJobResult(const ktstr::v1::Job& job, const std::string& binary);
// "     Summary [  12.34s] 3 tests run: 2 passed, 1 failed, 0 skipped"
std::string FormatSummary(const ktstr::v1::Run& run, double wall_s);
// Multi-line description of a run (stats show).
std::string FormatRunDetail(const ktstr::v1::Run& run);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_PRINTER_H_
