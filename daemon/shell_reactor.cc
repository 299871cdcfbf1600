#include "daemon/shell_reactor.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "daemon/grpc_status.h"
#include "spdlog/spdlog.h"

namespace ktstr::daemon {
namespace {
std::atomic<uint64_t> next_shell_id{1};
}  // namespace

ShellReactor::ShellReactor(ShellDeps deps) : deps_(deps) { StartRead(&in_); }

void ShellReactor::FinishEarly(const absl::Status& s) {
  {
    absl::MutexLock lock(&mu_);
    finished_ = true;
  }
  Finish(ToGrpcStatus(s));
}

void ShellReactor::OnReadDone(bool ok) {
  if (!session_) {
    if (!ok) return FinishEarly(absl::InvalidArgumentError("the stream ended before ShellStart"));
    if (!in_.has_start()) {
      return FinishEarly(
          absl::InvalidArgumentError("the first message of a Shell stream must be ShellStart"));
    }
    return Start();
  }
  if (!ok) {  // the client closed its side: end of input
    session_->StdinEof();
    return;
  }
  switch (in_.input_case()) {
    case ktstr::v1::ShellInput::kStdin:
      session_->Stdin(std::move(*in_.mutable_stdin()));
      break;
    case ktstr::v1::ShellInput::kResize:
      session_->Resize(in_.resize().rows(), in_.resize().cols());
      break;
    default:
      spdlog::warn("shell: ignoring an unexpected message ({})", in_.ShortDebugString());
      break;
  }
  StartRead(&in_);
}

void ShellReactor::Start() {
  absl::StatusOr<std::unique_ptr<ShellSession>> s =
      ShellSession::Create(in_.start(), deps_, absl::StrCat(next_shell_id++));
  if (!s.ok()) return FinishEarly(s.status());
  {
    absl::MutexLock lock(&mu_);
    session_ = std::move(*s);
    if (cancelled_) session_->Cancel();  // OnCancel ran while the session was being made
  }
  runner_ = std::thread([this] {
    ShellSink sink;
    sink.status = [this](const std::string& line) {
      ktstr::v1::ShellOutput out;
      out.set_status(line);
      Queue(std::move(out));
    };
    sink.output = [this](absl::string_view bytes) {
      ktstr::v1::ShellOutput out;
      out.set_stdout(std::string(bytes));
      Queue(std::move(out));
    };
    Complete(session_->Run(sink));
  });
  StartRead(&in_);
}

void ShellReactor::Queue(ktstr::v1::ShellOutput out) {
  {
    absl::MutexLock lock(&mu_);
    auto room = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return broken_ || finished_ || cancelled_ ||
             queued_bytes_ < config::kMaxQueuedShellOutput;
    };
    // A slow reader: wait for room, but never past the session's abort (timeout, cancel).
    while (!mu_.AwaitWithTimeout(absl::Condition(&room), absl::Milliseconds(100))) {
      if (session_->aborted()) return;
    }
    if (broken_ || finished_ || cancelled_) return;
    queued_bytes_ += out.ByteSizeLong();
    queue_.push_back(std::move(out));
  }
  Pump();
}

void ShellReactor::Complete(const absl::StatusOr<int>& result) {
  {
    absl::MutexLock lock(&mu_);
    if (result.ok()) {
      ktstr::v1::ShellOutput out;
      out.set_exit_code(*result);
      if (!broken_) {
        queued_bytes_ += out.ByteSizeLong();
        queue_.push_back(std::move(out));
      }
      final_ = grpc::Status::OK;
    } else {
      final_ = ToGrpcStatus(result.status());
    }
  }
  Pump();
}

void ShellReactor::Pump() {
  enum { kNothing, kWrite, kFinish } action = kNothing;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (writing_ || finished_) return;
    if (!queue_.empty()) {
      current_ = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= current_.ByteSizeLong();
      writing_ = true;
      action = kWrite;
    } else if (final_) {
      finished_ = true;
      status = *final_;
      action = kFinish;
    }
  }
  if (action == kWrite) StartWrite(&current_);
  if (action == kFinish) Finish(status);
}

void ShellReactor::OnWriteDone(bool ok) {
  if (!ok) {
    {
      absl::MutexLock lock(&mu_);
      broken_ = true;
      queue_.clear();
      queued_bytes_ = 0;
    }
    session_->Cancel();
  }
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
  }
  Pump();
}

void ShellReactor::OnCancel() {
  ShellSession* session;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    session = session_.get();
  }
  if (session != nullptr) session->Cancel();  // Complete() follows and finishes the stream
}

void ShellReactor::OnDone() {
  if (runner_.joinable()) {
    if (runner_.get_id() == std::this_thread::get_id()) {
      runner_.detach();  // never expected: gRPC runs OnDone on its own threads
    } else {
      runner_.join();
    }
  }
  delete this;
}

}  // namespace ktstr::daemon
