// The shared-library closure of a host binary, to place in the guest at the same paths.
// Uses the system's dynamic loader (ldd) until guest_agent/elf_closure.h lands; a static
// binary has an empty closure.
#ifndef KTSTR_CLIENT_CLOSURE_H_
#define KTSTR_CLIENT_CLOSURE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ktstr::client {

// Absolute host paths of every DT_NEEDED library (transitively) and the ELF interpreter.
absl::StatusOr<std::vector<std::string>> SharedLibraryClosure(const std::string& binary);

// Runs `argv` and returns its stdout; FAILED_PRECONDITION with stderr's gist on failure.
absl::StatusOr<std::string> RunAndCapture(const std::vector<std::string>& argv, int* exit_code);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_CLOSURE_H_
