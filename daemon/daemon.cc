#include "daemon/daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/artifact_store.h"
#include "daemon/cache_kernel_resolver.h"
#include "daemon/dispatcher.h"
#include "daemon/executor_factory.h"
#include "daemon/fs_util.h"
#include "daemon/ktstr_service.h"
#include "daemon/peer_cred.h"
#include "daemon/qemu_reaper.h"
#include "daemon/result_store.h"
#include "spdlog/spdlog.h"

namespace ktstr::daemon {
namespace {

constexpr char kVersion[] = "0.1.0";

Resources HostBudget(Resources asked) {
  // Default budget: every host CPU may back one vCPU, and VMs may use half the host's RAM
  // (QEMU overhead and page cache need the rest).
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  Resources r;
  r.vcpus = asked.vcpus ? asked.vcpus : static_cast<uint32_t>(cpus > 0 ? cpus : 1);
  r.memory_mb = asked.memory_mb ? asked.memory_mb
                                : static_cast<uint64_t>(pages) * page / (2 << 20);
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(DaemonOptions options) {
  std::unique_ptr<Daemon> d(new Daemon());
  d->options_ = options;
  const StatePaths& paths = options.paths;
  if (absl::Status s = MakeDirs(paths.state_dir, 0700); !s.ok()) return s;
  // One daemon per state directory: a second one (autostart race) exits here.
  std::string lock_path = paths.state_dir + "/ktstrd.lock";
  d->lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (d->lock_fd_ < 0 || flock(d->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("another ktstrd uses the state directory ", paths.state_dir));
  }
  (void)WriteFileAtomically(paths.DaemonPidFile(), absl::StrCat(getpid(), "\n"));
  if (int n = KillRecordedQemus(paths.QemuPidsDir()); n > 0) {
    spdlog::warn("killed {} QEMU processes left by a previous ktstrd", n);
  }
  RemoveTree(paths.VmWorkDir());

  absl::StatusOr<std::unique_ptr<ResultStore>> results = ResultStore::Open(paths.results_db);
  if (!results.ok()) return results.status();
  d->results_ = std::move(*results);
  absl::StatusOr<int> interrupted = d->results_->MarkInterrupted(absl::ToUnixMillis(absl::Now()));
  if (!interrupted.ok()) return interrupted.status();
  if (*interrupted > 0) {
    spdlog::warn("{} jobs of a previous ktstrd were unfinished; marked INTERRUPTED", *interrupted);
  }
  absl::StatusOr<std::unique_ptr<ArtifactStore>> artifacts =
      ArtifactStore::Open(paths.ArtifactsDir(), options.max_artifact_bytes);
  if (!artifacts.ok()) return artifacts.status();
  d->artifacts_ = std::move(*artifacts);
  absl::StatusOr<std::string> kernel_root =
      DaemonKernelCacheRoot(options.kernel_cache_dir, paths.system_mode, paths.state_dir);
  if (!kernel_root.ok()) return kernel_root.status();
  // The kernel tools/setup fetched joins the cache (cheap when it already has).
  if (absl::Status s = ImportSetupKernel(*kernel_root); !s.ok()) {
    spdlog::info("no setup kernel imported: {}", std::string(s.message()));
  }
  absl::StatusOr<std::unique_ptr<KernelResolver>> kernels =
      NewCacheKernelResolver(*kernel_root, paths.state_dir + "/default-kernel");
  if (!kernels.ok()) return kernels.status();
  d->kernels_ = std::move(*kernels);
  absl::StatusOr<std::unique_ptr<JobExecutor>> executor = MakeExecutor(options);
  if (!executor.ok()) return executor.status();
  d->executor_ = std::move(*executor);

  DispatcherOptions dopt;
  dopt.budget = HostBudget(options.budget);
  dopt.paths = paths;
  dopt.boot_allowance_s = options.boot_allowance_s;
  dopt.daemon_uid = getuid();
  d->dispatcher_ = std::make_unique<Dispatcher>(dopt, d->results_.get(), d->artifacts_.get(),
                                                d->kernels_.get(), d->executor_.get());

  absl::StatusOr<std::unique_ptr<UnixListener>> listener =
      UnixListener::Listen(paths.socket_path, options.socket_mode, options.socket_gid);
  if (!listener.ok()) return listener.status();
  d->listener_ = std::move(*listener);
  if (!options.testonly_fake_peer_cred_file.empty()) {
    spdlog::warn("testonly: peer credentials may be faked through {}",
                 options.testonly_fake_peer_cred_file);
    d->listener_->set_fake_peer_cred_file(options.testonly_fake_peer_cred_file);
  }

  ServiceDeps deps;
  deps.dispatcher = d->dispatcher_.get();
  deps.artifacts = d->artifacts_.get();
  deps.kernels = d->kernels_.get();
  deps.executor = d->executor_.get();
  deps.listener = d->listener_.get();
  auto& st = deps.static_status;
  st.set_version(kVersion);
  st.set_pid(getpid());
  st.set_started_unix_ms(absl::ToUnixMillis(absl::Now()));
  st.set_socket_path(paths.socket_path);
  st.set_state_dir(paths.state_dir);
  st.set_results_db(paths.results_db);
  st.set_system_mode(paths.system_mode);
  Daemon* raw = d.get();
  deps.request_stop = [raw](bool drain) { raw->RequestStop(drain); };
  d->service_ = std::make_unique<KtstrService>(std::move(deps));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.RegisterService(d->service_.get());
  builder.SetMaxReceiveMessageSize(8 << 20);  // 1 MiB upload chunks plus framing
  d->server_ = builder.BuildAndStart();
  if (!d->server_) return absl::InternalError("gRPC server failed to start");
  d->listener_->Start(d->server_.get());
  spdlog::info("ktstrd {} serving {} (state {}, results {}, budget {} vCPUs / {} MiB, "
               "executor {}, kernels {}, default kernel {})", kVersion, paths.socket_path,
               paths.state_dir, paths.results_db, dopt.budget.vcpus, dopt.budget.memory_mb,
               options.executor, *kernel_root, d->kernels_->DefaultKey());
  return d;
}

void Daemon::RequestStop(bool drain) {
  if (stop_.HasBeenNotified()) return;
  drain_ = drain;
  stop_.Notify();
}

void Daemon::Wait() {
  stop_.WaitForNotification();
  Shutdown();
}

void Daemon::Shutdown() {
  if (!server_) return;
  spdlog::info("ktstrd stopping{}", drain_ ? " (draining running jobs)" : "");
  listener_->Stop();                // no new connections
  dispatcher_->Shutdown(drain_);    // verdicts committed, watchers told
  executor_->Shutdown();            // every VM killed
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_.reset();
  unlink(options_.paths.DaemonPidFile().c_str());
  spdlog::info("ktstrd stopped");
}

Daemon::~Daemon() {
  Shutdown();
  if (lock_fd_ >= 0) close(lock_fd_);
}

}  // namespace ktstr::daemon
