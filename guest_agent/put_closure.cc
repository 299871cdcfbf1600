#include "guest_agent/put_closure.h"

#include "absl/strings/str_cat.h"
#include "guest_agent/elf_closure.h"

namespace ktstr::agent {

absl::StatusOr<PutClosureStats> PutBinaryWithLibraries(AgentClient& client, const std::string& host_path,
                                                       const std::string& guest_path, absl::Time deadline) {
  auto closure = ElfClosure({host_path});
  if (!closure.ok()) return closure.status();
  PutClosureStats stats;
  for (const ClosureFile& f : *closure) {
    auto done = client.PutFile(f.host_path, f.guest_path, 0, deadline);
    if (!done.ok())
      return absl::Status(done.status().code(),
                          absl::StrCat("putting ", f.guest_path, ": ", done.status().message()));
    stats.bytes += done->size();
    ++stats.libraries;
  }
  auto done = client.PutFile(host_path, guest_path, 0755, deadline);
  if (!done.ok())
    return absl::Status(done.status().code(), absl::StrCat("putting ", guest_path, ": ", done.status().message()));
  stats.bytes += done->size();
  return stats;
}

}  // namespace ktstr::agent
