#include "daemon/service_reactors.h"

#include "absl/strings/str_cat.h"
#include "daemon/grpc_status.h"

namespace ktstr::daemon {

UploadReactor::UploadReactor(ArtifactStore* store, ktstr::v1::UploadArtifactResponse* resp)
    : store_(store), resp_(resp) {
  StartRead(&req_);
}

void UploadReactor::Fail(const absl::Status& s) {
  finished_ = true;
  upload_.reset();  // removes the partial file
  Finish(ToGrpcStatus(s));
}

void UploadReactor::OnReadDone(bool ok) {
  if (finished_) return;
  if (!ok) {  // end of the client's stream
    if (!got_header_) return Fail(absl::InvalidArgumentError("upload without a header"));
    absl::StatusOr<ArtifactInfo> info = upload_->Finish();
    if (!info.ok()) return Fail(info.status());
    resp_->mutable_artifact()->set_sha256(info->sha256);
    resp_->mutable_artifact()->set_size_bytes(info->size_bytes);
    finished_ = true;
    Finish(grpc::Status::OK);
    return;
  }
  if (!got_header_) {
    if (!req_.has_header()) {
      return Fail(absl::InvalidArgumentError("the first upload message must be the header"));
    }
    got_header_ = true;
    const auto& h = req_.header();
    absl::StatusOr<std::unique_ptr<ArtifactStore::Upload>> up =
        store_->BeginUpload(h.sha256(), h.size_bytes(), h.kind());
    if (up.status().code() == absl::StatusCode::kAlreadyExists) {
      resp_->mutable_artifact()->set_sha256(h.sha256());
      resp_->mutable_artifact()->set_size_bytes(h.size_bytes());
      resp_->set_already_present(true);
      finished_ = true;
      Finish(grpc::Status::OK);
      return;
    }
    if (!up.ok()) return Fail(up.status());
    upload_ = std::move(*up);
  } else {
    if (!req_.has_chunk()) return Fail(absl::InvalidArgumentError("a second upload header"));
    if (req_.chunk().size() > (1u << 20)) {
      return Fail(absl::InvalidArgumentError("upload chunk over 1 MiB"));
    }
    if (absl::Status s = upload_->Append(req_.chunk()); !s.ok()) return Fail(s);
  }
  StartRead(&req_);
}

RunEventWriter::RunEventWriter(std::shared_ptr<RunEventLog> log, bool stream_output)
    : log_(std::move(log)), stream_output_(stream_output) {
  subscription_ = log_->Subscribe([this](const ktstr::v1::RunEvent& ev) { OnEvent(ev); });
}

RunEventWriter* RunEventWriter::Failed(const grpc::Status& error) {
  auto* w = new RunEventWriter();
  w->finished_ = true;
  w->Finish(error);
  return w;
}

void RunEventWriter::OnEvent(const ktstr::v1::RunEvent& ev) {
  if (ev.has_output() && !stream_output_) return;
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    queue_.Push(ev);
  }
  Pump();
}

void RunEventWriter::Pump() {
  enum { kNothing, kWrite, kFinish } action = kNothing;
  {
    absl::MutexLock lock(&mu_);
    if (writing_ || finished_) return;
    if (last_written_) {
      finished_ = true;
      action = kFinish;
    } else if (std::optional<ktstr::v1::RunEvent> next = queue_.Pop()) {
      current_ = *std::move(next);
      writing_ = true;
      action = kWrite;
    }
  }
  if (action == kWrite) StartWrite(&current_);
  if (action == kFinish) Finish(grpc::Status::OK);
}

void RunEventWriter::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      if (finished_) return;
      finished_ = true;
    } else if (current_.has_run_finished()) {
      last_written_ = true;
    }
  }
  if (!ok) {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
    return;
  }
  Pump();
}

void RunEventWriter::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || writing_) return;  // a pending write completes with ok=false
    finished_ = true;
  }
  Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away; the run continues"));
}

void RunEventWriter::OnDone() {
  if (log_) log_->Unsubscribe(subscription_);
  delete this;
}

}  // namespace ktstr::daemon
