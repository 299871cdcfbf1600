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

// The fd number the test binary writes its TestReport to.
constexpr int kResultFd = 3;

}  // namespace

void FdMessageSink::Send(const v1::GuestToHost& msg) {
  std::string frame = EncodeMessage(msg);
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
    case v1::HostToGuest::kStdin: {
      const uint64_t target = msg.has_cancel() ? msg.cancel().target_request_id()
                                               : msg.stdin().target_request_id();
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

absl::StatusOr<std::string> AgentServer::PrepareCgroup(const std::string& cgroup) {
  if (cgroup.empty()) return std::string();
  std::string dir = absl::StrCat(options_.cgroup_root, "/", absl::StripPrefix(cgroup, "/"));
  if (absl::Status s = MakeParentDirs(dir + "/"); !s.ok()) return s;
  return dir;
}

absl::StatusOr<ProcessOutcome> AgentServer::RunJobProcess(Job* job, const ProcessSpec& spec) {
  auto proc = RunningProcess::Start(spec);
  if (!proc.ok()) return proc.status();
  {
    absl::MutexLock jl(&job->mu);
    job->proc = proc->get();
    if (job->cancel_requested) job->proc->Cancel();
    if (!job->early_stdin.empty() || job->early_stdin_eof)
      job->proc->WriteStdin(std::move(job->early_stdin), job->early_stdin_eof);
  }
  const uint64_t id = job->id;
  ProcessOutcome outcome = (*proc)->Wait([this, id](v1::Output::Stream stream, absl::string_view data) {
    v1::GuestToHost m;
    m.set_request_id(id);
    m.mutable_output()->set_stream(stream);
    m.mutable_output()->set_data(std::string(data));
    sink_->Send(m);
  });
  absl::MutexLock jl(&job->mu);
  job->proc = nullptr;
  return outcome;
}

void AgentServer::RunExec(Job* job, v1::Exec exec) {
  if (exec.pty()) {
    SendError(job->id, v1::ERROR_CODE_IO, "exec.pty is not supported by this agent");
    return;
  }
  auto cg = PrepareCgroup(exec.cgroup());
  if (!cg.ok()) {
    SendError(job->id, v1::ERROR_CODE_IO, cg.status().message());
    return;
  }
  ProcessSpec spec;
  spec.argv.assign(exec.argv().begin(), exec.argv().end());
  spec.env.insert(exec.env().begin(), exec.env().end());
  spec.cwd = exec.cwd();
  spec.cgroup_dir = *cg;
  spec.timeout = std::chrono::milliseconds(exec.timeout_ms());
  spec.stdin_open = exec.stdin_open();
  auto outcome = RunJobProcess(job, spec);
  if (!outcome.ok()) {
    SendError(job->id, v1::ERROR_CODE_IO, outcome.status().message());
    return;
  }
  v1::GuestToHost out;
  out.set_request_id(job->id);
  *out.mutable_exec_exit() = outcome->exit;
  sink_->Send(out);
}

void AgentServer::RunTestJob(Job* job, v1::RunTest req) {
  v1::GuestToHost out;
  out.set_request_id(job->id);
  v1::TestResult* result = out.mutable_test_result();
  ProcessSpec spec;
  spec.env.insert(req.env().begin(), req.env().end());

  std::unique_ptr<SchedulerHandle> sched;
  if (req.has_scheduler()) {
    if (!options_.scheduler_starter) {
      result->mutable_scheduler()->set_state(v1::SCHEDULER_STATE_NOT_ATTACHED);
      result->set_error("this agent has no scheduler support");
      sink_->Send(out);
      return;
    }
    auto started = options_.scheduler_starter->Start(req.scheduler());
    if (!started.ok()) {
      result->mutable_scheduler()->set_state(v1::SCHEDULER_STATE_NOT_ATTACHED);
      result->set_error(absl::StrCat("scheduler ", req.scheduler().name(),
                                     " did not start: ", started.status().message()));
      sink_->Send(out);
      return;
    }
    sched = std::move(*started);
    v1::SchedulerReport early = sched->report();
    if (early.state() != v1::SCHEDULER_STATE_RAN && early.state() != v1::SCHEDULER_STATE_UNSPECIFIED) {
      *result->mutable_scheduler() = sched->Stop();
      result->set_error(absl::StrCat("scheduler ", req.scheduler().name(), " did not attach"));
      sink_->Send(out);
      return;
    }
    spec.env["SCHED_PID"] = absl::StrCat(sched->pid());
  } else {
    result->mutable_scheduler()->set_state(v1::SCHEDULER_STATE_NONE);
  }

  spec.argv = {req.binary_path(), "--ktstr-run", req.test_name(), "--ktstr-result-fd",
               absl::StrCat(kResultFd)};
  if (req.duration_s() > 0) {
    spec.argv.push_back("--ktstr-duration-s");
    spec.argv.push_back(absl::StrCat(req.duration_s()));
  }
  spec.argv.insert(spec.argv.end(), req.args().begin(), req.args().end());
  spec.timeout = std::chrono::milliseconds(req.timeout_ms());
  spec.result_fd = kResultFd;
  auto outcome = RunJobProcess(job, spec);
  if (sched) *result->mutable_scheduler() = sched->Stop();
  if (!outcome.ok()) {
    result->set_error(std::string(outcome.status().message()));
    sink_->Send(out);
    return;
  }
  *result->mutable_process() = outcome->exit;
  if (outcome->result.empty()) {
    result->set_error("the test binary wrote no report to its result fd");
  } else if (!result->mutable_report()->ParseFromString(outcome->result)) {
    result->clear_report();
    result->set_error(absl::StrCat("the test binary wrote ", outcome->result.size(),
                                   " bytes that are not a ktstr.v1.TestReport"));
  }
  sink_->Send(out);
}

}  // namespace ktstr::agent
