// Content-addressed artifact storage: files are named by their SHA-256, written through an
// upload session that verifies digest and size before the file becomes visible, and
// verified again before use. Thread-safe.
#ifndef KTSTR_DAEMON_ARTIFACT_STORE_H_
#define KTSTR_DAEMON_ARTIFACT_STORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ktstr::daemon {

struct ArtifactInfo {
  std::string sha256;   // lowercase hex, 64 characters
  uint64_t size_bytes = 0;
  int kind = 0;         // ktstr.v1.ArtifactKind value recorded at upload (0 = unknown)
};

// SHA-256 helpers (OpenSSL libcrypto).
std::string Sha256Hex(absl::string_view data);
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);
bool IsValidSha256Hex(absl::string_view s);

class ArtifactStore {
 public:
  // One upload in progress. Chunks are appended in order; Finish() verifies and publishes.
  // Destroying an unfinished upload removes its partial file.
  class Upload {
   public:
    virtual ~Upload() = default;
    // RESOURCE_EXHAUSTED if the data exceeds the declared size.
    virtual absl::Status Append(absl::string_view chunk) = 0;
    // INVALID_ARGUMENT on a size or digest mismatch (the partial file is removed).
    virtual absl::StatusOr<ArtifactInfo> Finish() = 0;
  };

  // `dir` holds the artifacts (created if missing); uploads over `max_size_bytes` are refused.
  static absl::StatusOr<std::unique_ptr<ArtifactStore>> Open(std::string dir,
                                                             uint64_t max_size_bytes);

  // NOT_FOUND when absent.
  absl::StatusOr<ArtifactInfo> Stat(absl::string_view sha256) const;

  // INVALID_ARGUMENT for a malformed digest, RESOURCE_EXHAUSTED over the size limit.
  // ALREADY_EXISTS when the digest is already stored (nothing to send).
  absl::StatusOr<std::unique_ptr<Upload>> BeginUpload(absl::string_view sha256,
                                                      uint64_t size_bytes, int kind);

  // The stored file's path after re-hashing it (DATA_LOSS if the file was corrupted,
  // NOT_FOUND if absent). Hashing a test binary costs milliseconds; correctness wins.
  absl::StatusOr<std::string> VerifiedPath(absl::string_view sha256) const;

  uint64_t max_size_bytes() const { return max_size_bytes_; }
  const std::string& dir() const { return dir_; }

 private:
  ArtifactStore(std::string dir, uint64_t max_size_bytes)
      : dir_(std::move(dir)), max_size_bytes_(max_size_bytes) {}
  std::string PathOf(absl::string_view sha256) const;

  const std::string dir_;
  const uint64_t max_size_bytes_;
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_ARTIFACT_STORE_H_
