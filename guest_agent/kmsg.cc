#include "guest_agent/kmsg.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ktstr::agent {

std::optional<v1::KernelLog> ParseKmsgRecord(absl::string_view record) {
  size_t semi = record.find(';');
  if (semi == absl::string_view::npos) return std::nullopt;
  std::vector<absl::string_view> f = absl::StrSplit(record.substr(0, semi), ',');
  uint32_t prio;
  uint64_t ts;
  if (f.size() < 3 || !absl::SimpleAtoi(f[0], &prio) || !absl::SimpleAtoi(f[2], &ts)) return std::nullopt;
  absl::string_view msg = record.substr(semi + 1);
  size_t nl = msg.find('\n');  // continuation lines (" KEY=value") are dropped
  if (nl != absl::string_view::npos) msg = msg.substr(0, nl);
  v1::KernelLog out;
  out.set_level(prio & 7);
  out.set_timestamp_us(ts);
  out.set_line(std::string(msg));
  return out;
}

absl::StatusOr<std::unique_ptr<KmsgForwarder>> KmsgForwarder::Start(
    const std::string& path, std::function<void(const v1::KernelLog&)> emit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  ::lseek(fd, 0, SEEK_END);  // only records logged from now on
  std::unique_ptr<KmsgForwarder> f(new KmsgForwarder());
  f->fd_ = fd;
  f->emit_ = std::move(emit);
  f->thread_ = std::thread([p = f.get()] { p->Loop(); });
  return f;
}

KmsgForwarder::~KmsgForwarder() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void KmsgForwarder::Loop() {
  char buf[8192];
  while (!stop_) {
    struct pollfd p = {fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    ssize_t n = ::read(fd_, buf, sizeof buf);  // one record per read
    if (n < 0 && errno == EPIPE) continue;     // records overwritten before we read them
    if (n <= 0) continue;
    if (auto rec = ParseKmsgRecord(absl::string_view(buf, static_cast<size_t>(n)))) emit_(*rec);
  }
}

}  // namespace ktstr::agent
