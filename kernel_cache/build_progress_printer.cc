#include "kernel_cache/build_progress_printer.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace ktstr::kcache {
namespace config {
// A non-terminal gets a compile line this often: enough to show life in a CI log.
inline constexpr absl::Duration kLogLineInterval = absl::Seconds(15);
inline constexpr int kBarWidth = 30;
inline constexpr size_t kDetailChars = 60;
}  // namespace config

std::string FormatBuildProgress(const BuildProgress& p) {
  std::string bar;
  if (p.total > 0) {
    int64_t done = std::clamp<int64_t>(p.done, 0, p.total);
    int filled = static_cast<int>(done * config::kBarWidth / p.total);
    bar = absl::StrCat(" [", std::string(filled, '#'), std::string(config::kBarWidth - filled, '.'),
                       "] ", done * 100 / p.total, "%");
  } else if (p.done > 0) {
    bar = absl::StrCat(" ", p.done, " objects");
  }
  std::string detail = p.detail.substr(0, config::kDetailChars);
  return absl::StrFormat("[%s %s]%s%s%s", BuildPhaseName(p.phase),
                         absl::FormatDuration(absl::Trunc(p.elapsed, absl::Seconds(1))), bar,
                         detail.empty() ? "" : " ", detail);
}

ProgressFn StderrBuildProgressPrinter() {
  struct State {
    bool tty = isatty(STDERR_FILENO) == 1;
    absl::Time last_line = absl::InfinitePast();
    BuildPhase last_phase = BuildPhase::kDone;
  };
  auto state = std::make_shared<State>();
  return [state](const BuildProgress& p) {
    std::string line = FormatBuildProgress(p);
    if (state->tty) {
      fprintf(stderr, "\r\033[K%s%s", line.c_str(), p.phase == BuildPhase::kDone ? "\n" : "");
    } else if (p.phase != state->last_phase ||
               absl::Now() - state->last_line >= config::kLogLineInterval) {
      state->last_line = absl::Now();
      fprintf(stderr, "%s\n", line.c_str());
    }
    state->last_phase = p.phase;
    fflush(stderr);
  };
}

}  // namespace ktstr::kcache
