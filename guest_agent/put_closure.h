// Ships a dynamically linked host binary to a running guest together with its shared-library
// closure (elf_closure.h), so it runs there as it does on the host.
#ifndef KTSTR_GUEST_AGENT_PUT_CLOSURE_H_
#define KTSTR_GUEST_AGENT_PUT_CLOSURE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "guest_agent/agent_client.h"

namespace ktstr::agent {

struct PutClosureStats {
  size_t libraries = 0;  // files besides the binary (interpreter included)
  uint64_t bytes = 0;    // everything sent
};

// Puts `host_path` at `guest_path` (mode 0755) after its interpreter and libraries. A static
// binary sends just itself. Errors name the missing library or the failed file.
absl::StatusOr<PutClosureStats> PutBinaryWithLibraries(AgentClient& client, const std::string& host_path,
                                                       const std::string& guest_path, absl::Time deadline);

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_PUT_CLOSURE_H_
