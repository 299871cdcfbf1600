// AgentServer's long-running requests: Exec and RunTest (with the scheduler seam), each on its
// own job thread.
#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "guest_agent/agent_server.h"
#include "guest_agent/log_follower.h"

namespace ktstr::agent {
namespace {

// The fd number the test binary writes its TestReport to (--ktstr-result-fd).
constexpr int kResultFd = 3;

}  // namespace

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
  spec.stdin_open = exec.stdin_open() || exec.pty();
  spec.pty = exec.pty();
  if (exec.pty_rows() > 0) spec.pty_rows = static_cast<uint16_t>(exec.pty_rows());
  if (exec.pty_cols() > 0) spec.pty_cols = static_cast<uint16_t>(exec.pty_cols());
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
  // The loader's output goes to the host live (stats lines while the test runs), not only
  // as the report's tail at the end.
  std::optional<LogFollower> sched_output;
  if (sched && !sched->log_path().empty()) {
    sched_output.emplace(sched->log_path(), [this, id = job->id](absl::string_view data) {
      v1::GuestToHost m;
      m.set_request_id(id);
      m.mutable_output()->set_stream(v1::Output::STREAM_SCHEDULER);
      m.mutable_output()->set_data(std::string(data));
      sink_->Send(m);
    });
  }
  auto outcome = RunJobProcess(job, spec);
  if (sched) *result->mutable_scheduler() = sched->Stop();
  sched_output.reset();  // its last chunk (the exit dump) goes before the result
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
