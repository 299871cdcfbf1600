#include "guest_agent/channel.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "guest_agent/guest_info.h"

namespace ktstr::agent {

absl::StatusOr<ChannelAddress> ParseChannelAddress(const std::string& spec) {
  ChannelAddress a;
  if (spec.empty() || spec == "vport") return a;
  if (absl::StartsWith(spec, "vport:")) {
    a.value = spec.substr(6);
  } else if (absl::StartsWith(spec, "unix:")) {
    a.kind = ChannelAddress::Kind::kUnixSocket;
    a.value = spec.substr(5);
  } else if (absl::StartsWith(spec, "dev:")) {
    a.kind = ChannelAddress::Kind::kDevice;
    a.value = spec.substr(4);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("bad --channel '", spec, "': want vport, vport:NAME, unix:PATH or dev:PATH"));
  }
  if (a.value.empty()) return absl::InvalidArgumentError("--channel needs a name or path");
  return a;
}

absl::StatusOr<std::string> FindVirtioPort(const std::string& name, const std::string& sys_root) {
  const std::string dir = sys_root + "/class/virtio-ports";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return absl::NotFoundError(absl::StrCat("no ", dir, ": ", std::strerror(errno)));
  std::string found, seen;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto n = ReadTrimmed(absl::StrCat(dir, "/", e->d_name, "/name"));
    if (!n.ok()) continue;
    absl::StrAppend(&seen, seen.empty() ? "" : ", ", e->d_name, "=", *n);
    if (*n == name) found = absl::StrCat("/dev/", e->d_name);
  }
  ::closedir(d);
  if (found.empty())
    return absl::NotFoundError(absl::StrCat("no virtio port named ", name, " (ports: ", seen, ")"));
  return found;
}

absl::StatusOr<int> OpenChannel(const ChannelAddress& addr) {
  std::string path = addr.value;
  if (addr.kind == ChannelAddress::Kind::kUnixSocket) {
    struct sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path)
      return absl::InvalidArgumentError(absl::StrCat("socket path too long: ", path));
    std::memcpy(sa.sun_path, path.data(), path.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
    if (::connect(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) != 0) {
      int e = errno;
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("connect ", path, ": ", std::strerror(e)));
    }
    return fd;
  }
  if (addr.kind == ChannelAddress::Kind::kVirtioPort) {
    auto dev = FindVirtioPort(addr.value);
    if (!dev.ok()) return dev.status();
    path = *dev;
  }
  int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  return fd;
}

}  // namespace ktstr::agent
