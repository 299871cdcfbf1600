#include "daemon/peer_cred.h"

#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "daemon/fs_util.h"
#include "spdlog/spdlog.h"

namespace ktstr::daemon {
namespace {

bool SomeoneAnswers(const sockaddr_un& addr) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixListener>> UnixListener::Listen(const std::string& path,
                                                                   unsigned mode, int gid) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return absl::InvalidArgumentError(absl::StrCat("socket path too long (max ",
                                                   sizeof addr.sun_path - 1, "): ", path));
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
    if (absl::Status s = MakeDirs(path.substr(0, slash), 0755); !s.ok()) return s;
  }
  if (SomeoneAnswers(addr)) {
    return absl::FailedPreconditionError(
        absl::StrCat("another ktstrd already serves ", path,
                     " (stop it with `ktstr-client daemon stop`)"));
  }
  unlink(path.c_str());  // stale socket of a dead daemon
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 64) != 0) {
    std::string err = strerror(errno);
    close(fd);
    return absl::InternalError(absl::StrCat("cannot listen on ", path, ": ", err));
  }
  if (chmod(path.c_str(), mode) != 0 || (gid >= 0 && chown(path.c_str(), -1, gid) != 0)) {
    std::string err = strerror(errno);
    close(fd);
    return absl::InternalError(absl::StrCat("cannot set permissions of ", path, ": ", err));
  }
  return std::unique_ptr<UnixListener>(new UnixListener(path, fd));
}

UnixListener::~UnixListener() { Stop(); }

void UnixListener::Start(grpc::Server* server) {
  thread_ = std::thread([this, server] { AcceptLoop(server); });
}

void UnixListener::AcceptLoop(grpc::Server* server) {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;  // 200 ms: how quickly Stop() is noticed
    // gRPC expects a non-blocking fd (its posix endpoint never sets it itself).
    int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) {
      if (errno != EINTR && errno != EAGAIN) spdlog::warn("accept: {}", strerror(errno));
      continue;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      spdlog::warn("SO_PEERCRED failed ({}); dropping the connection", strerror(errno));
      close(conn);
      continue;
    }
    if (!fake_cred_file_.empty()) {
      if (absl::StatusOr<std::string> f = ReadFileToString(fake_cred_file_); f.ok()) {
        unsigned uid = 0, gid = 0;
        if (sscanf(f->c_str(), "%u %u", &uid, &gid) == 2) {
          spdlog::warn("testonly: connection from pid {} attributed to uid {} gid {}",
                       cred.pid, uid, gid);
          cred.uid = uid;
          cred.gid = gid;
        }
      }
    }
    {
      // Recorded before gRPC sees the fd, so every call on it finds its caller. A reused fd
      // number overwrites the entry of the closed connection it replaces.
      absl::MutexLock lock(&mu_);
      callers_[conn] = Caller{cred.uid, cred.gid, static_cast<uint32_t>(cred.pid)};
    }
    grpc::AddInsecureChannelFromFd(server, conn);  // gRPC owns and closes conn now
  }
}

void UnixListener::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  close(fd_);
  unlink(path_.c_str());
}

std::optional<Caller> UnixListener::CallerForPeer(const std::string& peer) const {
  int fd = -1;
  if (!absl::StartsWith(peer, "fd:") || !absl::SimpleAtoi(peer.substr(3), &fd)) {
    return std::nullopt;
  }
  absl::MutexLock lock(&mu_);
  auto it = callers_.find(fd);
  if (it == callers_.end()) return std::nullopt;
  return it->second;
}

}  // namespace ktstr::daemon
