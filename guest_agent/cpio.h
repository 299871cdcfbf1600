// A cpio "newc" archive writer (the format the kernel unpacks as an initramfs) and gzip.
#ifndef KTSTR_GUEST_AGENT_CPIO_H_
#define KTSTR_GUEST_AGENT_CPIO_H_

#include <cstdint>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ktstr::agent {

class CpioWriter {
 public:
  // Paths are archive paths without a leading '/' ("bin/sh"); a leading '/' is stripped.
  // Missing parent directories are added (0755) before any entry.
  void AddDirectory(absl::string_view path, uint32_t mode = 0755);
  void AddFile(absl::string_view path, absl::string_view data, uint32_t mode = 0644);
  void AddSymlink(absl::string_view path, absl::string_view target);
  void AddCharDevice(absl::string_view path, uint32_t major, uint32_t minor, uint32_t mode = 0600);
  // Appends the trailer and returns the archive; the writer is empty afterwards.
  std::string Finish();

  size_t entries() const { return next_ino_ - 1; }

 private:
  void AddParents(const std::string& path);
  void Entry(const std::string& path, uint32_t mode, absl::string_view data, uint32_t rmajor = 0,
             uint32_t rminor = 0);

  std::string out_;
  std::set<std::string> dirs_;
  uint32_t next_ino_ = 1;
};

// gzip (RFC 1952) of `data`, as the kernel's initramfs unpacker accepts.
absl::StatusOr<std::string> Gzip(absl::string_view data, int level = 6);
// The inverse, for tests and for checking cached archives.
absl::StatusOr<std::string> Gunzip(absl::string_view data);

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_CPIO_H_
