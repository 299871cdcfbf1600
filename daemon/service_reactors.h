// The streaming reactors of KtstrService: an artifact upload (client stream) and a run's
// event stream (server stream, one write outstanding).
#ifndef KTSTR_DAEMON_SERVICE_REACTORS_H_
#define KTSTR_DAEMON_SERVICE_REACTORS_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "daemon/artifact_store.h"
#include "daemon/run_events.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace ktstr::daemon {

// Header first, then chunks. A known digest is answered right after the header
// (already_present = true) without reading the rest.
class UploadReactor : public grpc::ServerReadReactor<ktstr::v1::UploadArtifactRequest> {
 public:
  UploadReactor(ArtifactStore* store, ktstr::v1::UploadArtifactResponse* resp);
  void OnReadDone(bool ok) override;
  void OnDone() override { delete this; }

 private:
  void Fail(const absl::Status& s);

  ArtifactStore* const store_;
  ktstr::v1::UploadArtifactResponse* const resp_;
  ktstr::v1::UploadArtifactRequest req_;
  std::unique_ptr<ArtifactStore::Upload> upload_;
  bool got_header_ = false;
  bool finished_ = false;
};

// Streams a run's history and live events until RunFinished; output lines only when asked.
// If the client goes away the run continues (WatchRun re-attaches).
class RunEventWriter : public grpc::ServerWriteReactor<ktstr::v1::RunEvent> {
 public:
  // `log` null = finish at once with `error`.
  RunEventWriter(std::shared_ptr<RunEventLog> log, bool stream_output);
  static RunEventWriter* Failed(const grpc::Status& error);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  RunEventWriter() = default;
  void OnEvent(const ktstr::v1::RunEvent& ev);
  // Starts the next write or finishes; call without mu_ held.
  void Pump();

  std::shared_ptr<RunEventLog> log_;
  bool stream_output_ = false;
  int subscription_ = 0;
  absl::Mutex mu_;
  WatcherQueue queue_ ABSL_GUARDED_BY(mu_);  // output bounded per watcher
  ktstr::v1::RunEvent current_;  // the one outstanding write
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool last_written_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_SERVICE_REACTORS_H_
