// The gRPC callback service: converts proto to core calls, one core call per RPC, maps the
// status, relays run events. No SQL, pool logic or QEMU here.
#ifndef KTSTR_DAEMON_KTSTR_SERVICE_H_
#define KTSTR_DAEMON_KTSTR_SERVICE_H_

#include <functional>
#include <string>

#include "daemon/artifact_store.h"
#include "daemon/dispatcher.h"
#include "daemon/job_executor.h"
#include "daemon/kernel_resolver.h"
#include "daemon/peer_cred.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace ktstr::daemon {

struct ServiceDeps {
  Dispatcher* dispatcher = nullptr;
  ArtifactStore* artifacts = nullptr;
  KernelResolver* kernels = nullptr;
  JobExecutor* executor = nullptr;
  const UnixListener* listener = nullptr;
  ktstr::v1::GetDaemonStatusResponse static_status;  // version, paths, mode, start time
  std::function<void(bool drain)> request_stop;       // StopDaemon
};

class KtstrService final : public ktstr::v1::Ktstrd::CallbackService {
 public:
  explicit KtstrService(ServiceDeps deps) : deps_(std::move(deps)) {}

  grpc::ServerReadReactor<ktstr::v1::UploadArtifactRequest>* UploadArtifact(
      grpc::CallbackServerContext* ctx, ktstr::v1::UploadArtifactResponse* resp) override;
  grpc::ServerUnaryReactor* StatArtifact(grpc::CallbackServerContext* ctx,
                                         const ktstr::v1::StatArtifactRequest* req,
                                         ktstr::v1::StatArtifactResponse* resp) override;
  grpc::ServerWriteReactor<ktstr::v1::RunEvent>* SubmitRun(
      grpc::CallbackServerContext* ctx, const ktstr::v1::SubmitRunRequest* req) override;
  grpc::ServerWriteReactor<ktstr::v1::RunEvent>* WatchRun(
      grpc::CallbackServerContext* ctx, const ktstr::v1::WatchRunRequest* req) override;
  grpc::ServerUnaryReactor* CancelRun(grpc::CallbackServerContext* ctx,
                                      const ktstr::v1::CancelRunRequest* req,
                                      ktstr::v1::CancelRunResponse* resp) override;
  grpc::ServerUnaryReactor* GetRun(grpc::CallbackServerContext* ctx,
                                   const ktstr::v1::GetRunRequest* req,
                                   ktstr::v1::GetRunResponse* resp) override;
  grpc::ServerUnaryReactor* ListRuns(grpc::CallbackServerContext* ctx,
                                     const ktstr::v1::ListRunsRequest* req,
                                     ktstr::v1::ListRunsResponse* resp) override;
  grpc::ServerUnaryReactor* CompareRuns(grpc::CallbackServerContext* ctx,
                                        const ktstr::v1::CompareRunsRequest* req,
                                        ktstr::v1::CompareRunsResponse* resp) override;
  grpc::ServerUnaryReactor* ListKernels(grpc::CallbackServerContext* ctx,
                                        const ktstr::v1::ListKernelsRequest* req,
                                        ktstr::v1::ListKernelsResponse* resp) override;
  grpc::ServerUnaryReactor* ImportKernel(grpc::CallbackServerContext* ctx,
                                         const ktstr::v1::ImportKernelRequest* req,
                                         ktstr::v1::ImportKernelResponse* resp) override;
  grpc::ServerUnaryReactor* RemoveKernel(grpc::CallbackServerContext* ctx,
                                         const ktstr::v1::RemoveKernelRequest* req,
                                         ktstr::v1::RemoveKernelResponse* resp) override;
  grpc::ServerUnaryReactor* CleanKernels(grpc::CallbackServerContext* ctx,
                                         const ktstr::v1::CleanKernelsRequest* req,
                                         ktstr::v1::CleanKernelsResponse* resp) override;
  grpc::ServerUnaryReactor* GetPoolStatus(grpc::CallbackServerContext* ctx,
                                          const ktstr::v1::GetPoolStatusRequest* req,
                                          ktstr::v1::GetPoolStatusResponse* resp) override;
  grpc::ServerUnaryReactor* SetPoolTarget(grpc::CallbackServerContext* ctx,
                                          const ktstr::v1::SetPoolTargetRequest* req,
                                          ktstr::v1::SetPoolTargetResponse* resp) override;
  grpc::ServerBidiReactor<ktstr::v1::ShellInput, ktstr::v1::ShellOutput>* Shell(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* GetDaemonStatus(grpc::CallbackServerContext* ctx,
                                            const ktstr::v1::GetDaemonStatusRequest* req,
                                            ktstr::v1::GetDaemonStatusResponse* resp) override;
  grpc::ServerUnaryReactor* StopDaemon(grpc::CallbackServerContext* ctx,
                                       const ktstr::v1::StopDaemonRequest* req,
                                       ktstr::v1::StopDaemonResponse* resp) override;

 private:
  // The caller of this RPC from SO_PEERCRED; PERMISSION_DENIED if unknown.
  absl::StatusOr<Caller> CallerOf(grpc::CallbackServerContext* ctx) const;

  const ServiceDeps deps_;
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_KTSTR_SERVICE_H_
