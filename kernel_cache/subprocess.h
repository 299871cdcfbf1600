// Runs external tools (make, dpkg, objcopy, zstd, apt-get, git) with Status errors.
// The child's stdout and stderr go to a pipe the parent reads line by line (for progress
// and the build log), or stdout to a file (for decompressors).
#ifndef KTSTR_KERNEL_CACHE_SUBPROCESS_H_
#define KTSTR_KERNEL_CACHE_SUBPROCESS_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ktstr::kcache {

struct CommandOptions {
  std::string cwd;                                       // "" = inherit
  std::vector<std::pair<std::string, std::string>> env;  // added/overridden variables
  std::string stdin_path;                                // "" = /dev/null
  std::string stdout_path;  // "" = captured; else stdout goes to this file
  std::string log_path;     // "" = none; else captured output is appended here
  std::function<void(absl::string_view line)> on_line;  // each captured line
  absl::Duration timeout = absl::InfiniteDuration();    // child killed (SIGKILL) after this
  size_t keep_tail_bytes = 4096;  // how much captured output CommandResult keeps
};

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  std::string output_tail;  // the last keep_tail_bytes of captured output
  bool ok() const { return exit_code == 0; }
};

// Errors only when the command cannot be started (NotFound for a missing program).
// A non-zero exit is a successful CommandResult with exit_code set.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const CommandOptions& options = {});

// RunCommand, and an error (with the output tail) unless the command exited 0.
absl::StatusOr<CommandResult> RunCommandOk(const std::vector<std::string>& argv,
                                           const CommandOptions& options = {});

// Children run in their own process group (so a timeout kills make and everything it
// started) and get SIGKILL if the calling thread dies. Because they are not in the
// terminal's foreground group, Ctrl-C does not reach them: command-line tools call this
// once so SIGINT/SIGTERM are forwarded to every running child's group before the tool
// itself dies of the signal.
void ForwardTerminationSignalsToChildren();

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_SUBPROCESS_H_
