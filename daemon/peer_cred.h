// The daemon's unix socket: we accept connections ourselves to read SO_PEERCRED (gRPC does
// not expose peer credentials on unix sockets, grpc/grpc#28755), remember the caller per
// connection, and hand the fd to gRPC with AddInsecureChannelFromFd. gRPC names such a
// peer "fd:<n>"; CallerForPeer maps that back to the credentials read at accept.
#ifndef KTSTR_DAEMON_PEER_CRED_H_
#define KTSTR_DAEMON_PEER_CRED_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "daemon/dispatcher.h"

namespace grpc {
class Server;
}

namespace ktstr::daemon {

class UnixListener {
 public:
  // Binds `path` (parent directories created 0755; a stale socket file that no one answers
  // on is replaced; FAILED_PRECONDITION if a live daemon answers). `mode` applies to the
  // socket file; `gid` >= 0 chowns it to that group (system mode).
  static absl::StatusOr<std::unique_ptr<UnixListener>> Listen(const std::string& path,
                                                              unsigned mode, int gid);
  ~UnixListener();  // Stop()

  // Tests only (ktstrd --testonly_fake_peer_cred_file): while `path` exists and holds
  // "UID GID", new connections are attributed to that uid/gid instead of SO_PEERCRED's.
  // Lets a sandboxed test act as a second user without changing its process credentials.
  void set_fake_peer_cred_file(std::string path) { fake_cred_file_ = std::move(path); }

  // Accepts on a thread until Stop(), handing each connection to `server`.
  void Start(grpc::Server* server);
  void Stop();

  // The credentials of the connection gRPC calls `peer` ("fd:<n>"); nullopt if unknown.
  std::optional<Caller> CallerForPeer(const std::string& peer) const;
  const std::string& path() const { return path_; }

 private:
  UnixListener(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  void AcceptLoop(grpc::Server* server);

  const std::string path_;
  std::string fake_cred_file_;
  int fd_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  std::map<int, Caller> callers_ ABSL_GUARDED_BY(mu_);  // by connection fd
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_PEER_CRED_H_
