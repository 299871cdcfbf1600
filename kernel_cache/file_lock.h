// RAII flock(2) on a lock file. Locks live outside cache entries (<root>/.locks) so that
// replacing an entry never orphans the inode another process holds.
#ifndef KTSTR_KERNEL_CACHE_FILE_LOCK_H_
#define KTSTR_KERNEL_CACHE_FILE_LOCK_H_

#include <string>

#include "absl/status/statusor.h"

namespace ktstr::kcache {

class FileLock {
 public:
  enum class Mode { kShared, kExclusive };
  // Blocks until the lock is held.
  static absl::StatusOr<FileLock> Acquire(const std::string& path, Mode mode);
  // Unavailable when another holder conflicts.
  static absl::StatusOr<FileLock> TryAcquire(const std::string& path, Mode mode);

  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  static absl::StatusOr<FileLock> Lock(const std::string& path, Mode mode, bool wait);
  int fd_;
};

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_FILE_LOCK_H_
