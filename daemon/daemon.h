// ktstrd assembled: stores, kernel resolver, executor, dispatcher, gRPC server on the unix
// socket (health checking and reflection on). TF Serving's server.h shape: Options, Start,
// Wait, Shutdown.
#ifndef KTSTR_DAEMON_DAEMON_H_
#define KTSTR_DAEMON_DAEMON_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "daemon/admission.h"
#include "daemon/state_paths.h"

namespace grpc {
class Server;
}

namespace ktstr::daemon {

class ArtifactStore;
class Dispatcher;
class JobExecutor;
class KernelResolver;
class KtstrService;
class ResultStore;
class UnixListener;

struct DaemonOptions {
  StatePaths paths;
  unsigned socket_mode = 0600;    // 0660 in system mode
  int socket_gid = -1;            // system mode: the group allowed to connect
  Resources budget;               // 0 = from the host size
  uint64_t max_artifact_bytes = 512ull << 20;
  std::string executor = "vm";    // "vm" or "fake" (tests only)
  // Kernel cache root; "" = <state_dir>/kernels in system mode, else
  // ${KTSTR_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/ktstr}/kernels (kernel_cache/README.md).
  std::string kernel_cache_dir;
  uint32_t pool_target = 1;       // ready clones per (kernel, shape) in use
  absl::Duration pool_idle = absl::Minutes(10);  // empty an unused pool after this
  uint32_t boot_allowance_s = 300;
  std::string agent_path;         // "" = ktstr-agent next to ktstrd (or Bazel's layout)
  bool pool_snapshots = true;     // false: cold boots only (--pool=cold)
  std::string testonly_fake_peer_cred_file;  // see UnixListener::set_fake_peer_cred_file
};

class Daemon {
 public:
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(DaemonOptions options);
  ~Daemon();

  // Blocks until RequestStop (StopDaemon RPC or a signal), then shuts down.
  void Wait();
  void RequestStop(bool drain);

 private:
  Daemon() = default;
  void Shutdown();

  DaemonOptions options_;
  int lock_fd_ = -1;
  std::unique_ptr<ResultStore> results_;
  std::unique_ptr<ArtifactStore> artifacts_;
  std::unique_ptr<KernelResolver> kernels_;
  std::unique_ptr<JobExecutor> executor_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<UnixListener> listener_;
  std::unique_ptr<KtstrService> service_;
  std::unique_ptr<grpc::Server> server_;
  absl::Notification stop_;
  bool drain_ = false;
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_DAEMON_H_
