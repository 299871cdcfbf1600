// Sends kernels to ktstrd: files as content-addressed artifacts, then ImportKernel.
#ifndef KTSTR_CLIENT_KERNEL_UPLOAD_H_
#define KTSTR_CLIENT_KERNEL_UPLOAD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/connection.h"
#include "kernel_cache/kernel_cache.h"
#include "proto/ktstr/v1/kernel.pb.h"

namespace ktstr::client {

namespace config {
// Importing a bzImage extracts and strips its vmlinux, a .deb is unpacked first: seconds to
// a minute on a busy host, far more than a unary listing needs.
inline constexpr absl::Duration kImportDeadline = absl::Minutes(5);
}  // namespace config

// Uploads one file; errors name the file.
absl::StatusOr<ktstr::v1::ArtifactRef> UploadKernelFile(Connection& c, const std::string& path,
                                                        ktstr::v1::ArtifactKind kind);

struct KernelSendOptions {
  bool make_default = false;
  bool replace = false;  // replace ktstrd's entry of the same key (a forced rebuild)
};

struct KernelSendResult {
  ktstr::v1::KernelEntry kernel;  // as ktstrd now lists it
  bool daemon_had_it = false;     // a valid entry with this key was there already
  bool sent = false;              // ImportKernel was called (uploaded; maybe replaced)
  bool replaced = false;          // ktstrd's entry of the key was replaced
};

// Sends an entry of the client's own cache (a kernel it built) under its key, source and
// fragment hash. Nothing is uploaded when ktstrd already has the key (unless replacing, or
// making it the default, which needs an import call).
absl::StatusOr<KernelSendResult> SendCachedKernel(Connection& c, const kcache::CacheEntry& entry,
                                                  const KernelSendOptions& options);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_KERNEL_UPLOAD_H_
