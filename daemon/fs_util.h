// Small filesystem helpers shared by the daemon's stores.
#ifndef KTSTR_DAEMON_FS_UTIL_H_
#define KTSTR_DAEMON_FS_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ktstr::daemon {

// mkdir -p with `mode` for directories it creates.
absl::Status MakeDirs(const std::string& path, unsigned mode = 0755);
absl::StatusOr<std::string> ReadFileToString(const std::string& path);
// Writes via a temporary file and rename, so readers never see a partial file.
absl::Status WriteFileAtomically(const std::string& path, const std::string& data);
// rm -rf; missing paths are fine.
void RemoveTree(const std::string& path);

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_FS_UTIL_H_
