// Content-addressed upload: hash the file, ask the daemon whether it has the digest (one
// round trip when it does), else stream it in 1 MiB chunks.
#ifndef KTSTR_CLIENT_UPLOAD_H_
#define KTSTR_CLIENT_UPLOAD_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace ktstr::client {

struct UploadResult {
  ktstr::v1::ArtifactRef ref;
  bool already_present = false;
};

absl::StatusOr<UploadResult> UploadFile(ktstr::v1::Ktstrd::Stub* stub, const std::string& path,
                                        ktstr::v1::ArtifactKind kind);

// Uploads the shared-library closure of `binary` (client/closure.h) and returns it as guest
// files at their host paths (mode 0755); empty for a static binary or a non-ELF file.
absl::StatusOr<std::vector<ktstr::v1::GuestFile>> UploadSharedLibraries(
    ktstr::v1::Ktstrd::Stub* stub, const std::string& binary);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_UPLOAD_H_
