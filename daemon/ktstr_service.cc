#include "daemon/ktstr_service.h"

#include "absl/strings/str_cat.h"
#include "daemon/compare.h"
#include "daemon/grpc_status.h"
#include "daemon/kernel_import_request.h"
#include "daemon/service_reactors.h"
#include "daemon/shell_reactor.h"

namespace ktstr::daemon {
namespace {

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const absl::Status& s) {
  grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
  r->Finish(ToGrpcStatus(s));
  return r;
}

}  // namespace

absl::StatusOr<Caller> KtstrService::CallerOf(grpc::CallbackServerContext* ctx) const {
  std::optional<Caller> c = deps_.listener->CallerForPeer(ctx->peer());
  if (!c) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot identify the caller (peer '", ctx->peer(), "')"));
  }
  return *c;
}

grpc::ServerReadReactor<ktstr::v1::UploadArtifactRequest>* KtstrService::UploadArtifact(
    grpc::CallbackServerContext* ctx, ktstr::v1::UploadArtifactResponse* resp) {
  return new UploadReactor(deps_.artifacts, resp);
}

grpc::ServerUnaryReactor* KtstrService::StatArtifact(grpc::CallbackServerContext* ctx,
                                                     const ktstr::v1::StatArtifactRequest* req,
                                                     ktstr::v1::StatArtifactResponse* resp) {
  absl::StatusOr<ArtifactInfo> info = deps_.artifacts->Stat(req->sha256());
  if (info.status().code() == absl::StatusCode::kNotFound) return Done(ctx, absl::OkStatus());
  if (!info.ok()) return Done(ctx, info.status());
  resp->set_present(true);
  resp->mutable_artifact()->set_sha256(info->sha256);
  resp->mutable_artifact()->set_size_bytes(info->size_bytes);
  resp->set_kind(static_cast<ktstr::v1::ArtifactKind>(info->kind));
  return Done(ctx, absl::OkStatus());
}

grpc::ServerWriteReactor<ktstr::v1::RunEvent>* KtstrService::SubmitRun(
    grpc::CallbackServerContext* ctx, const ktstr::v1::SubmitRunRequest* req) {
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return RunEventWriter::Failed(ToGrpcStatus(caller.status()));
  absl::StatusOr<Dispatcher::Submitted> sub = deps_.dispatcher->Submit(req->spec(), *caller);
  if (!sub.ok()) return RunEventWriter::Failed(ToGrpcStatus(sub.status()));
  return new RunEventWriter(sub->events, req->stream_output());
}

grpc::ServerWriteReactor<ktstr::v1::RunEvent>* KtstrService::WatchRun(
    grpc::CallbackServerContext* ctx, const ktstr::v1::WatchRunRequest* req) {
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return RunEventWriter::Failed(ToGrpcStatus(caller.status()));
  absl::StatusOr<std::shared_ptr<RunEventLog>> log =
      deps_.dispatcher->Watch(req->run_id(), *caller);
  if (!log.ok()) return RunEventWriter::Failed(ToGrpcStatus(log.status()));
  return new RunEventWriter(*log, req->stream_output());
}

grpc::ServerUnaryReactor* KtstrService::CancelRun(grpc::CallbackServerContext* ctx,
                                                  const ktstr::v1::CancelRunRequest* req,
                                                  ktstr::v1::CancelRunResponse* resp) {
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Done(ctx, caller.status());
  absl::StatusOr<uint32_t> n = deps_.dispatcher->Cancel(req->run_id(), *caller);
  if (n.ok()) resp->set_jobs_cancelled(*n);
  return Done(ctx, n.status());
}

grpc::ServerUnaryReactor* KtstrService::GetRun(grpc::CallbackServerContext* ctx,
                                               const ktstr::v1::GetRunRequest* req,
                                               ktstr::v1::GetRunResponse* resp) {
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Done(ctx, caller.status());
  absl::StatusOr<ktstr::v1::Run> run = deps_.dispatcher->GetRun(req->run_id(), *caller);
  if (run.ok()) *resp->mutable_run() = std::move(*run);
  return Done(ctx, run.status());
}

grpc::ServerUnaryReactor* KtstrService::ListRuns(grpc::CallbackServerContext* ctx,
                                                 const ktstr::v1::ListRunsRequest* req,
                                                 ktstr::v1::ListRunsResponse* resp) {
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Done(ctx, caller.status());
  auto runs = deps_.dispatcher->ListRuns(*caller, req->limit(), req->all_users(),
                                         req->before_run_id());
  if (runs.ok()) {
    for (auto& r : *runs) *resp->add_runs() = std::move(r);
  }
  return Done(ctx, runs.status());
}

grpc::ServerUnaryReactor* KtstrService::CompareRuns(grpc::CallbackServerContext* ctx,
                                                    const ktstr::v1::CompareRunsRequest* req,
                                                    ktstr::v1::CompareRunsResponse* resp) {
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Done(ctx, caller.status());
  absl::StatusOr<ktstr::v1::Run> a = deps_.dispatcher->GetRun(req->run_a(), *caller);
  if (!a.ok()) return Done(ctx, a.status());
  absl::StatusOr<ktstr::v1::Run> b = deps_.dispatcher->GetRun(req->run_b(), *caller);
  if (!b.ok()) return Done(ctx, b.status());
  *resp = daemon::CompareRuns(*a, *b, req->threshold_pct());
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* KtstrService::ListKernels(grpc::CallbackServerContext* ctx,
                                                    const ktstr::v1::ListKernelsRequest* req,
                                                    ktstr::v1::ListKernelsResponse* resp) {
  for (auto& k : deps_.kernels->List()) *resp->add_kernels() = std::move(k);
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* KtstrService::ImportKernel(grpc::CallbackServerContext* ctx,
                                                     const ktstr::v1::ImportKernelRequest* req,
                                                     ktstr::v1::ImportKernelResponse* resp) {
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Done(ctx, caller.status());
  absl::StatusOr<KernelImport> import =
      KernelImportFromRequest(*req, *deps_.artifacts,
                              deps_.dispatcher->CallerIsPrivileged(*caller));
  if (!import.ok()) return Done(ctx, import.status());
  absl::StatusOr<ktstr::v1::KernelEntry> entry = deps_.kernels->Import(*import);
  if (entry.ok()) *resp->mutable_kernel() = std::move(*entry);
  return Done(ctx, entry.status());
}

grpc::ServerUnaryReactor* KtstrService::RemoveKernel(grpc::CallbackServerContext* ctx,
                                                     const ktstr::v1::RemoveKernelRequest* req,
                                                     ktstr::v1::RemoveKernelResponse*) {
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Done(ctx, caller.status());
  if (!deps_.dispatcher->CallerIsPrivileged(*caller)) {
    return Done(ctx, absl::PermissionDeniedError("removing kernels: root or ktstrd's user only"));
  }
  return Done(ctx, deps_.kernels->Remove(req->cache_key()));
}

grpc::ServerUnaryReactor* KtstrService::CleanKernels(grpc::CallbackServerContext* ctx,
                                                     const ktstr::v1::CleanKernelsRequest* req,
                                                     ktstr::v1::CleanKernelsResponse* resp) {
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Done(ctx, caller.status());
  if (!deps_.dispatcher->CallerIsPrivileged(*caller)) {
    return Done(ctx, absl::PermissionDeniedError("cleaning kernels: root or ktstrd's user only"));
  }
  absl::StatusOr<std::vector<std::string>> removed =
      deps_.kernels->Clean(req->keep(), req->corrupt_only());
  if (removed.ok()) {
    for (auto& k : *removed) resp->add_removed_keys(std::move(k));
  }
  return Done(ctx, removed.status());
}

grpc::ServerUnaryReactor* KtstrService::GetPoolStatus(grpc::CallbackServerContext* ctx,
                                                      const ktstr::v1::GetPoolStatusRequest*,
                                                      ktstr::v1::GetPoolStatusResponse* resp) {
  for (auto& p : deps_.executor->PoolStatus()) *resp->add_pools() = std::move(p);
  DispatcherCounts c = deps_.dispatcher->Counts();
  resp->set_vcpu_budget(c.budget.vcpus);
  resp->set_vcpus_in_use(c.in_use.vcpus);
  resp->set_memory_budget_mb(c.budget.memory_mb);
  resp->set_memory_in_use_mb(c.in_use.memory_mb);
  resp->set_accelerator(deps_.executor->accelerator());
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* KtstrService::SetPoolTarget(grpc::CallbackServerContext* ctx,
                                                      const ktstr::v1::SetPoolTargetRequest* req,
                                                      ktstr::v1::SetPoolTargetResponse* resp) {
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Done(ctx, caller.status());
  if (!deps_.dispatcher->CallerIsPrivileged(*caller)) {
    return Done(ctx, absl::PermissionDeniedError("pool targets: root or the daemon's user only"));
  }
  absl::StatusOr<ktstr::v1::PoolStatus> p =
      deps_.executor->SetPoolTarget(req->key(), req->target());
  if (p.ok()) *resp->mutable_pool() = std::move(*p);
  return Done(ctx, p.status());
}

grpc::ServerBidiReactor<ktstr::v1::ShellInput, ktstr::v1::ShellOutput>* KtstrService::Shell(
    grpc::CallbackServerContext*) {
  return new ShellReactor(
      ShellDeps{deps_.kernels, deps_.artifacts, deps_.dispatcher, deps_.executor});
}

grpc::ServerUnaryReactor* KtstrService::GetDaemonStatus(
    grpc::CallbackServerContext* ctx, const ktstr::v1::GetDaemonStatusRequest*,
    ktstr::v1::GetDaemonStatusResponse* resp) {
  *resp = deps_.static_status;
  resp->set_default_kernel_key(deps_.kernels->DefaultKey());
  DispatcherCounts c = deps_.dispatcher->Counts();
  resp->set_runs_active(c.runs_active);
  resp->set_jobs_queued(c.jobs_queued);
  resp->set_jobs_running(c.jobs_running);
  resp->set_vms_running(deps_.executor->vms_running());
  resp->set_accelerator(deps_.executor->accelerator());
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* KtstrService::StopDaemon(grpc::CallbackServerContext* ctx,
                                                   const ktstr::v1::StopDaemonRequest* req,
                                                   ktstr::v1::StopDaemonResponse*) {
  absl::StatusOr<Caller> caller = CallerOf(ctx);
  if (!caller.ok()) return Done(ctx, caller.status());
  if (!deps_.dispatcher->CallerIsPrivileged(*caller)) {
    return Done(ctx, absl::PermissionDeniedError("stopping ktstrd: root or its user only"));
  }
  deps_.request_stop(req->drain());
  return Done(ctx, absl::OkStatus());
}

}  // namespace ktstr::daemon
