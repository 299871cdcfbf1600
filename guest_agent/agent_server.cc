#include "guest_agent/agent_server.h"

#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "guest_agent/guest_info.h"
#include "guest_agent/pid1.h"
#include "spdlog/spdlog.h"

namespace ktstr::agent {
namespace {

uint64_t UptimeMs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

int64_t RealtimeNs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

v1::ErrorCode CodeFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kDataLoss:
      return v1::ERROR_CODE_CHECKSUM;
    case absl::StatusCode::kResourceExhausted:
      return v1::ERROR_CODE_BUSY;
    case absl::StatusCode::kInvalidArgument:
      return v1::ERROR_CODE_BAD_MESSAGE;
    default:
      return v1::ERROR_CODE_IO;
  }
}

}  // namespace

void FdMessageSink::Send(const v1::GuestToHost& msg) {
  std::string payload = msg.SerializeAsString();
  if (payload.size() > config::kMaxPayloadBytes) {
    // The host would drop it as oversized and wait forever: say what happened instead.
    v1::GuestToHost err;
    err.set_request_id(msg.request_id());
    err.mutable_error()->set_code(v1::ERROR_CODE_IO);
    err.mutable_error()->set_message(absl::StrCat("reply of ", payload.size(),
                                                  " bytes exceeds the frame cap"));
    payload = err.SerializeAsString();
  }
  std::string frame = EncodeFrame(payload);
  absl::MutexLock lock(&mu_);
  size_t done = 0;
  while (done < frame.size()) {
    ssize_t w = ::write(fd_, frame.data() + done, frame.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      // The host is gone; the reader side notices and decides what to do.
      spdlog::warn("channel write failed: {}", std::strerror(errno));
      return;
    }
    done += static_cast<size_t>(w);
  }
}

AgentServer::AgentServer(AgentServerOptions options, MessageSink* sink)
    : options_(std::move(options)), sink_(sink) {}

AgentServer::~AgentServer() {
  CancelAll();
  kmsg_.reset();
}

void AgentServer::SendError(uint64_t id, v1::ErrorCode code, absl::string_view message) {
  v1::GuestToHost out;
  out.set_request_id(id);
  out.mutable_error()->set_code(code);
  out.mutable_error()->set_message(std::string(message));
  sink_->Send(out);
}

void AgentServer::OnBytes(absl::string_view bytes) {
  decoder_.Feed(bytes);
  while (true) {
    FrameDecoder::Item item = decoder_.Next();
    if (std::holds_alternative<std::monostate>(item)) return;
    if (auto* err = std::get_if<FrameError>(&item)) {
      spdlog::debug("{}", err->Describe());  // the host gets it; the console is slow
      SendError(0, v1::ERROR_CODE_BAD_FRAME, err->Describe());
      continue;
    }
    HandlePayload(std::get<std::string>(item));
  }
}

void AgentServer::HandlePayload(absl::string_view payload) {
  v1::HostToGuest msg;
  if (!msg.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    SendError(0, v1::ERROR_CODE_BAD_MESSAGE, "payload is not a parsable HostToGuest");
    return;
  }
  if (msg.msg_case() == v1::HostToGuest::MSG_NOT_SET) {
    SendError(msg.request_id(), v1::ERROR_CODE_UNKNOWN_REQUEST,
              "no known request kind in the message (newer host?)");
    return;
  }
  if (absl::Status s = ValidateHostToGuest(msg); !s.ok()) {
    SendError(msg.request_id(), v1::ERROR_CODE_BAD_MESSAGE, s.message());
    return;
  }
  Handle(msg);
}

void AgentServer::Handle(const v1::HostToGuest& msg) {
  const uint64_t id = msg.request_id();
  v1::GuestToHost out;
  out.set_request_id(id);
  switch (msg.msg_case()) {
    case v1::HostToGuest::kHello:
      HandleHello(id, msg.hello());
      return;
    case v1::HostToGuest::kPing:
      out.mutable_pong()->set_seq(msg.ping().seq());
      out.mutable_pong()->set_uptime_ms(UptimeMs());
      sink_->Send(out);
      return;
    case v1::HostToGuest::kSetTime:
      if (!options_.allow_set_time) {
        SendError(id, v1::ERROR_CODE_IO, "set_time is disabled in this agent (--no-pid1)");
        return;
      }
      if (absl::Status s = SetRealtimeClock(msg.set_time().unix_ns()); !s.ok()) {
        SendError(id, v1::ERROR_CODE_IO, s.message());
        return;
      }
      out.mutable_ack();
      sink_->Send(out);
      return;
    case v1::HostToGuest::kPutFile: {
      auto done = files_.Apply(id, msg.put_file());
      if (!done.ok()) {
        SendError(id, CodeFor(done.status()), done.status().message());
      } else if (done->has_value()) {
        *out.mutable_put_file_done() = **done;
        sink_->Send(out);
      }
      return;
    }
    case v1::HostToGuest::kExec:
      StartJob(id, [this, exec = msg.exec()](Job* job) { RunExec(job, exec); });
      return;
    case v1::HostToGuest::kRunTest:
      StartJob(id, [this, req = msg.run_test()](Job* job) { RunTestJob(job, req); });
      return;
    case v1::HostToGuest::kCancel:
    case v1::HostToGuest::kStdin:
    case v1::HostToGuest::kPtyResize: {
      const uint64_t target = msg.has_cancel()  ? msg.cancel().target_request_id()
                              : msg.has_stdin() ? msg.stdin().target_request_id()
                                                : msg.pty_resize().target_request_id();
      absl::MutexLock lock(&jobs_mu_);
      auto it = jobs_.find(target);
      if (it == jobs_.end() || it->second->done) {
        SendError(id, v1::ERROR_CODE_UNKNOWN_REQUEST, absl::StrCat("no running request ", target));
        return;
      }
      Job* job = it->second.get();
      absl::MutexLock jl(&job->mu);
      if (msg.has_cancel()) {
        job->cancel_requested = true;
        if (job->proc) job->proc->Cancel();
      } else if (msg.has_pty_resize()) {
        absl::Status s = job->proc ? job->proc->Resize(static_cast<uint16_t>(msg.pty_resize().rows()),
                                                       static_cast<uint16_t>(msg.pty_resize().cols()))
                                   : absl::FailedPreconditionError("the target has no process yet");
        if (!s.ok()) {
          SendError(id, v1::ERROR_CODE_IO, s.message());
          return;
        }
      } else if (job->proc) {
        job->proc->WriteStdin(msg.stdin().data(), msg.stdin().eof());
      } else {
        // The job thread has not started its process yet: keep the bytes for it.
        job->early_stdin += msg.stdin().data();
        job->early_stdin_eof = job->early_stdin_eof || msg.stdin().eof();
      }
      out.mutable_ack();
      sink_->Send(out);
      return;
    }
    case v1::HostToGuest::kShutdown:
      out.mutable_ack();
      sink_->Send(out);
      CancelAll();
      if (options_.on_shutdown) options_.on_shutdown(msg.shutdown().reboot());
      return;
    case v1::HostToGuest::MSG_NOT_SET:
      break;
  }
  SendError(id, v1::ERROR_CODE_UNKNOWN_REQUEST, "unknown request kind");
}

void AgentServer::HandleHello(uint64_t id, const v1::Hello& hello) {
  if (hello.host_time_unix_ns() > 0 && options_.allow_set_time) {
    if (absl::Status s = SetRealtimeClock(hello.host_time_unix_ns()); !s.ok())
      spdlog::warn("hello: {}", std::string(s.message()));
  }
  if (hello.forward_kernel_log() && options_.allow_kernel_log && !kmsg_) {
    auto fwd = KmsgForwarder::Start("/dev/kmsg", [this](const v1::KernelLog& log) {
      v1::GuestToHost m;
      *m.mutable_kernel_log() = log;
      sink_->Send(m);
    });
    if (fwd.ok()) {
      kmsg_ = std::move(*fwd);
    } else {
      spdlog::warn("kernel log forwarding: {}", std::string(fwd.status().message()));
    }
  }
  v1::GuestToHost out;
  out.set_request_id(id);
  v1::HelloReply* r = out.mutable_hello();
  r->set_agent_version(kAgentVersion);
  struct utsname u;
  if (::uname(&u) == 0) r->set_kernel_release(u.release);
  auto topo = ReadGuestTopology(options_.sys_root, options_.proc_root);
  if (topo.ok()) {
    *r->mutable_topology() = *topo;
  } else {
    spdlog::warn("topology: {}", std::string(topo.status().message()));
  }
  SchedExtStatus scx = ReadSchedExt(options_.sys_root);
  r->set_sched_ext(scx.state);
  r->set_sched_ext_ops(scx.ops);
  r->set_uptime_ms(UptimeMs());
  r->set_guest_time_unix_ns(RealtimeNs());
  sink_->Send(out);
}

void AgentServer::ReapFinishedJobs() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second->done) {
      if (it->second->thread.joinable()) it->second->thread.join();
      jobs_.erase(it++);
    } else {
      ++it;
    }
  }
}

size_t AgentServer::running_jobs() {
  absl::MutexLock lock(&jobs_mu_);
  ReapFinishedJobs();
  return jobs_.size();
}

void AgentServer::StartJob(uint64_t id, std::function<void(Job*)> body) {
  absl::MutexLock lock(&jobs_mu_);
  ReapFinishedJobs();
  if (jobs_.count(id)) {
    SendError(id, v1::ERROR_CODE_BAD_MESSAGE, absl::StrCat("request ", id, " is already running"));
    return;
  }
  if (jobs_.size() >= config::kMaxConcurrentJobs) {
    SendError(id, v1::ERROR_CODE_BUSY,
              absl::StrCat(config::kMaxConcurrentJobs, " requests already running"));
    return;
  }
  auto job = std::make_unique<Job>();
  job->id = id;
  Job* raw = job.get();
  jobs_[id] = std::move(job);
  raw->thread = std::thread([raw, body = std::move(body)] {
    body(raw);
    raw->done = true;
  });
}

void AgentServer::CancelAll() {
  std::vector<std::unique_ptr<Job>> all;
  {
    absl::MutexLock lock(&jobs_mu_);
    for (auto& [id, job] : jobs_) {
      absl::MutexLock jl(&job->mu);
      job->cancel_requested = true;
      if (job->proc) job->proc->Cancel();
    }
    for (auto& [id, job] : jobs_) all.push_back(std::move(job));
    jobs_.clear();
  }
  for (auto& job : all)
    if (job->thread.joinable()) job->thread.join();
}

}  // namespace ktstr::agent
