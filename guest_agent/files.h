// Chunked PutFile: the chunks of one file share a request id and arrive in order. The file
// is written to "<path>.ktstr-part" and renamed into place only when its size and crc32c
// match, so a half-written binary is never executed.
#ifndef KTSTR_GUEST_AGENT_FILES_H_
#define KTSTR_GUEST_AGENT_FILES_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "proto/ktstr/agent/v1/agent.pb.h"

namespace ktstr::agent {

namespace config {
// Files being received at once; more is a host bug (or an attack) and gets BUSY.
inline constexpr size_t kMaxOpenPuts = 32;
}  // namespace config

// Creates every missing parent directory of `path` (mode 0755).
absl::Status MakeParentDirs(const std::string& path);

class FileReceiver {
 public:
  FileReceiver() = default;
  ~FileReceiver();  // removes partial files
  FileReceiver(const FileReceiver&) = delete;
  FileReceiver& operator=(const FileReceiver&) = delete;

  // Applies one chunk. Returns PutFileDone for the last chunk, std::nullopt-like empty
  // optional (ok status, no value) for a middle chunk, or an error; on error the partial
  // file is removed and the request is forgotten.
  // Error codes: InvalidArgument (out of order), DataLoss (size/crc mismatch),
  // ResourceExhausted (too many open), Internal (I/O).
  absl::StatusOr<std::optional<v1::PutFileDone>> Apply(uint64_t request_id, const v1::PutFile& chunk);

 private:
  struct Pending {
    std::string path, part_path;
    int fd = -1;
    uint64_t size = 0;
    uint32_t crc = 0;
    uint32_t mode = 0644;
  };
  void Drop(uint64_t request_id);

  absl::flat_hash_map<uint64_t, Pending> pending_;
};

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_FILES_H_
