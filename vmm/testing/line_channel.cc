#include "vmm/testing/line_channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace ktstr::vmm::testing {

absl::StatusOr<std::string> AskLine(const std::string& socket_path, const std::string& request,
                                    absl::Duration timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError("socket path too long");
  }
  memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect ", socket_path, ": ", strerror(err)));
  }
  const absl::Time deadline = absl::Now() + timeout;
  absl::Time next_send = absl::InfinitePast();
  std::string reply;
  while (absl::Now() < deadline) {
    if (absl::Now() >= next_send) {
      const std::string line = request + "\n";
      (void)!write(fd, line.data(), line.size());
      next_send = absl::Now() + absl::Seconds(2);
    }
    pollfd p{.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n > 0) reply.append(buf, n);
    size_t nl = reply.find('\n');
    if (nl != std::string::npos) {
      close(fd);
      return reply.substr(0, nl);
    }
  }
  close(fd);
  return absl::DeadlineExceededError(absl::StrCat("no answer to ", request, " on ", socket_path));
}

}  // namespace ktstr::vmm::testing
