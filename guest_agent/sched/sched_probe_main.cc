// sched_probe: runs SchedulerSupervisor once in the guest and prints the final SchedulerReport,
// for the in-VM test (scheduler_supervisor_vm_test) and for a person at a guest shell.
//
//   sched_probe [--log=PATH] [--attach-timeout-ms=N] [--watch-ms=N] [--expect-ops=NAME]
//               [--sysctl=KEY=VALUE]... -- LOADER [ARGS...]
//
// Starts LOADER through the supervisor, then calls Alive() every 50 ms for up to --watch-ms
// (stopping early once the scheduler is gone), then Stop(). The report is printed in protobuf
// text format between the lines KTSTR_SCHED_REPORT_BEGIN and KTSTR_SCHED_REPORT_END.
// Exit status: 0 when a report was printed, 2 on bad usage, 3 when Start failed.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/text_format.h"
#include "guest_agent/sched/scheduler_supervisor.h"

namespace {

constexpr char kUsage[] =
    "usage: sched_probe [--log=PATH] [--attach-timeout-ms=N] [--watch-ms=N]\n"
    "                   [--expect-ops=NAME] [--sysctl=KEY=VALUE]... -- LOADER [ARGS...]\n"
    "Starts LOADER under the scheduler supervisor, watches it for --watch-ms (default 2000),\n"
    "stops it and prints the SchedulerReport (text format) between KTSTR_SCHED_REPORT_BEGIN\n"
    "and KTSTR_SCHED_REPORT_END. Defaults: --log=/tmp/sched.log, --attach-timeout-ms=60000.\n";

bool ParseMs(absl::string_view text, int64_t* ms) {
  return absl::SimpleAtoi(text, ms) && *ms >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  ktstr::agent::SchedulerLaunchSpec spec;
  spec.log_path = "/tmp/sched.log";
  spec.attach_timeout = absl::Seconds(60);
  int64_t watch_ms = 2000;
  int i = 1;
  for (; i < argc; ++i) {
    absl::string_view a = argv[i];
    int64_t ms = 0;
    if (a == "--") {
      ++i;
      break;
    } else if (a == "--help" || a == "-h") {
      fputs(kUsage, stdout);
      return 0;
    } else if (absl::ConsumePrefix(&a, "--log=")) {
      spec.log_path = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--attach-timeout-ms=") && ParseMs(a, &ms)) {
      spec.attach_timeout = absl::Milliseconds(ms);
    } else if (absl::ConsumePrefix(&a, "--watch-ms=") && ParseMs(a, &ms)) {
      watch_ms = ms;
    } else if (absl::ConsumePrefix(&a, "--expect-ops=")) {
      spec.expected_ops_name = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--sysctl=") && absl::StrContains(a, '=')) {
      size_t eq = a.find('=');
      spec.sysctls.emplace_back(std::string(a.substr(0, eq)), std::string(a.substr(eq + 1)));
    } else {
      fprintf(stderr, "sched_probe: bad argument '%s'\n\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "sched_probe: no loader given\n\n%s", kUsage);
    return 2;
  }
  spec.binary_path = argv[i];
  spec.name = spec.binary_path;
  for (++i; i < argc; ++i) spec.args.push_back(argv[i]);

  auto sup = ktstr::agent::SchedulerSupervisor::Start(spec);
  if (!sup.ok()) {
    fprintf(stderr, "sched_probe: %s\n", sup.status().ToString().c_str());
    return 3;
  }
  absl::Time deadline = absl::Now() + absl::Milliseconds(watch_ms);
  while (absl::Now() < deadline && (*sup)->Alive()) absl::SleepFor(absl::Milliseconds(50));
  ktstr::agent::v1::SchedulerReport report = (*sup)->Stop();
  std::string text;
  google::protobuf::TextFormat::PrintToString(report, &text);
  printf("KTSTR_SCHED_REPORT_BEGIN\n%sKTSTR_SCHED_REPORT_END\n", text.c_str());
  return 0;
}
