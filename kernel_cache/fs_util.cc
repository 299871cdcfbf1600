#include "kernel_cache/fs_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace ktstr::kcache {
namespace fs = std::filesystem;

namespace {
absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  int e = errno;
  std::string msg = absl::StrCat(what, " ", path, ": ", std::strerror(e));
  return e == ENOENT ? absl::NotFoundError(msg) : absl::InternalError(msg);
}
}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  return ReadFileRange(path, 0, UINT64_MAX);
}

absl::StatusOr<std::string> ReadFileRange(const std::string& path, uint64_t offset,
                                          uint64_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  absl::Cleanup closer = [fd] { close(fd); };
  std::string out;
  char buf[1 << 16];
  uint64_t pos = offset;
  while (out.size() < max_bytes) {
    size_t want = std::min<uint64_t>(sizeof(buf), max_bytes - out.size());
    ssize_t n = pread(fd, buf, want, static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    pos += static_cast<uint64_t>(n);
  }
  return out;
}

absl::Status WriteStringToFile(const std::string& path, absl::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", path);
  absl::Cleanup closer = [fd] { close(fd); };
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path);
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return ErrnoError("cannot fsync", path);
  return absl::OkStatus();
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return ErrnoError("cannot open", from);
  absl::Cleanup close_in = [in] { close(in); };
  int out = open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return ErrnoError("cannot create", to);
  absl::Cleanup close_out = [out] { close(out); };
  std::string buf(1 << 20, '\0');
  while (true) {
    ssize_t n = read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", from);
    }
    if (n == 0) break;
    ssize_t done = 0;
    while (done < n) {
      ssize_t w = write(out, buf.data() + done, static_cast<size_t>(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("cannot write", to);
      }
      done += w;
    }
  }
  if (fsync(out) != 0) return ErrnoError("cannot fsync", to);
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create directory ", path, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot remove ", path, ": ", ec.message()));
  return absl::OkStatus();
}

uint64_t TreeSizeBytes(const std::string& path) {
  std::error_code ec;
  uint64_t total = 0;
  for (auto it = fs::recursive_directory_iterator(path, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code e2;
    if (it->is_regular_file(e2)) total += it->file_size(e2);
  }
  return total;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::StatusOr<ScopedTempDir> ScopedTempDir::Create(const std::string& parent,
                                                    absl::string_view prefix) {
  if (absl::Status s = MakeDirs(parent); !s.ok()) return s;
  std::string tmpl = absl::StrCat(parent, "/", prefix, "XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr)
    return ErrnoError("cannot create temporary directory in", parent);
  return ScopedTempDir(tmpl);
}

ScopedTempDir::~ScopedTempDir() {
  if (!path_.empty()) (void)RemoveTree(path_);
}

}  // namespace ktstr::kcache
