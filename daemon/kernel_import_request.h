// ImportKernelRequest -> KernelImport: artifacts become verified host paths; a host path is
// accepted only from a privileged caller (root or the daemon's uid), since the daemon
// would otherwise read files on a user's behalf that the user may not be able to read.
#ifndef KTSTR_DAEMON_KERNEL_IMPORT_REQUEST_H_
#define KTSTR_DAEMON_KERNEL_IMPORT_REQUEST_H_

#include "absl/status/statusor.h"
#include "daemon/artifact_store.h"
#include "daemon/kernel_resolver.h"
#include "proto/ktstr/v1/kernel.pb.h"

namespace ktstr::daemon {

// INVALID_ARGUMENT: no source, or vmlinux/config/cache_key without `image`;
// NOT_FOUND: an artifact that was not uploaded; PERMISSION_DENIED: host_path from an
// unprivileged caller.
absl::StatusOr<KernelImport> KernelImportFromRequest(const ktstr::v1::ImportKernelRequest& req,
                                                     const ArtifactStore& artifacts,
                                                     bool caller_privileged);

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_KERNEL_IMPORT_REQUEST_H_
