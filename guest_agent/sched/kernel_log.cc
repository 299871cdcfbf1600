#include "guest_agent/sched/kernel_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ktstr::agent {
namespace {
// /dev/kmsg returns one record per read() and EINVAL if the buffer is smaller than the record;
// records are at most ~1 KiB of text plus dictionary, so 8 KiB always fits.
constexpr size_t kRecordBuffer = 8192;
}  // namespace

std::optional<std::string> ParseKmsgRecord(absl::string_view record) {
  size_t semi = record.find(';');
  if (semi == absl::string_view::npos || semi == 0) return std::nullopt;
  absl::string_view message = record.substr(semi + 1);
  size_t nl = message.find('\n');
  if (nl != absl::string_view::npos) message = message.substr(0, nl);
  return std::string(message);
}

absl::StatusOr<std::unique_ptr<DevKmsgSource>> DevKmsgSource::Open(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  if (lseek(fd, 0, SEEK_END) < 0) {
    int err = errno;
    close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat("seek to the end of ", path));
  }
  return std::unique_ptr<DevKmsgSource>(new DevKmsgSource(fd));
}

DevKmsgSource::~DevKmsgSource() { close(fd_); }

std::vector<std::string> DevKmsgSource::ReadNew() {
  std::vector<std::string> out;
  char buf[kRecordBuffer];
  for (;;) {
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n > 0) {
      if (std::optional<std::string> msg = ParseKmsgRecord(absl::string_view(buf, n))) {
        out.push_back(std::move(*msg));
      }
      continue;
    }
    // EPIPE: records were overwritten before we read them; the next read resumes at the
    // oldest record still there. Anything else (EAGAIN included) ends this batch.
    if (n < 0 && errno == EPIPE) continue;
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  return out;
}

}  // namespace ktstr::agent
