// Small filesystem helpers with Status errors (no exceptions escape).
#ifndef KTSTR_KERNEL_CACHE_FS_UTIL_H_
#define KTSTR_KERNEL_CACHE_FS_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ktstr::kcache {

absl::StatusOr<std::string> ReadFileToString(const std::string& path);
// Reads at most `max_bytes` from `offset`.
absl::StatusOr<std::string> ReadFileRange(const std::string& path, uint64_t offset,
                                          uint64_t max_bytes);
absl::Status WriteStringToFile(const std::string& path, absl::string_view data);
// Copies a regular file (following symlinks), preserving nothing but the bytes; fsyncs.
absl::Status CopyFile(const std::string& from, const std::string& to);
absl::Status MakeDirs(const std::string& path);
// Removes a file or directory tree; OK when it does not exist.
absl::Status RemoveTree(const std::string& path);
// Total size of the regular files under `path`.
uint64_t TreeSizeBytes(const std::string& path);
bool PathExists(const std::string& path);
bool IsRegularFile(const std::string& path);
bool IsDirectory(const std::string& path);

// A directory removed with everything in it when this object dies.
class ScopedTempDir {
 public:
  // Creates `<parent>/<prefix>XXXXXX`.
  static absl::StatusOr<ScopedTempDir> Create(const std::string& parent, absl::string_view prefix);
  ScopedTempDir(ScopedTempDir&& other) noexcept : path_(std::move(other.path_)) {
    other.path_.clear();
  }
  ScopedTempDir& operator=(ScopedTempDir&&) = delete;
  ScopedTempDir(const ScopedTempDir&) = delete;
  ~ScopedTempDir();
  const std::string& path() const { return path_; }
  // Forget the directory (it was renamed away).
  void Release() { path_.clear(); }

 private:
  explicit ScopedTempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_FS_UTIL_H_
