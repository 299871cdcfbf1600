#include "kernel_cache/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ktstr::kcache {

absl::StatusOr<FileLock> FileLock::Acquire(const std::string& path, Mode mode) {
  return Lock(path, mode, /*wait=*/true);
}

absl::StatusOr<FileLock> FileLock::TryAcquire(const std::string& path, Mode mode) {
  return Lock(path, mode, /*wait=*/false);
}

absl::StatusOr<FileLock> FileLock::Lock(const std::string& path, Mode mode, bool wait) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open lock ", path, ": ", std::strerror(errno)));
  }
  int op = (mode == Mode::kShared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB);
  int rc;
  do {
    rc = flock(fd, op);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int e = errno;
    close(fd);
    if (e == EWOULDBLOCK)
      return absl::UnavailableError(absl::StrCat(path, " is locked by another process"));
    return absl::InternalError(absl::StrCat("flock ", path, ": ", std::strerror(e)));
  }
  return FileLock(fd);
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) close(fd_);  // closing the last fd releases the flock
}

}  // namespace ktstr::kcache
