#include "daemon/dispatcher.h"

#include <pwd.h>
#include <sys/utsname.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "daemon/shape.h"
#include "daemon/verdict.h"
#include "spdlog/spdlog.h"

namespace ktstr::daemon {
namespace {

using ktstr::v1::Job;
using ktstr::v1::RunEvent;
using ktstr::v1::Verdict;

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

std::string UserName(uint32_t uid) {
  struct passwd pw, *out = nullptr;
  char buf[1024];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &out) == 0 && out != nullptr) return pw.pw_name;
  return absl::StrCat(uid);
}

std::string HostArch() {
  struct utsname u;
  return uname(&u) == 0 ? u.machine : "unknown";
}

Verdict SimpleVerdict(ktstr::v1::VerdictKind kind, std::string reason) {
  Verdict v;
  v.set_kind(kind);
  v.set_reason(std::move(reason));
  return v;
}

}  // namespace

Dispatcher::Dispatcher(DispatcherOptions options, ResultStore* results,
                       ArtifactStore* artifacts, KernelResolver* kernels,
                       JobExecutor* executor)
    : options_(std::move(options)), results_(results), artifacts_(artifacts),
      kernels_(kernels), executor_(executor), admission_(options_.budget) {
  // Continue the run-id counter past the newest stored run, so ids stay unique across a
  // restart within the same second.
  if (auto runs = results_->ListRuns(std::nullopt, 1, ""); runs.ok() && !runs->empty()) {
    const std::string& id = (*runs)[0].run_id();
    uint32_t n = 0;
    if (size_t dash = id.rfind('-'); dash != std::string::npos &&
                                     absl::SimpleAtoi(id.substr(dash + 1), &n)) {
      absl::MutexLock lock(&mu_);
      run_counter_ = n + 1;
    }
  }
  loop_ = std::thread([this] { Loop(); });
}

Dispatcher::~Dispatcher() { Shutdown(false); }

std::string Dispatcher::NewRunId() {
  std::string second = absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone());
  return absl::StrFormat("%s-%04u", second, run_counter_++ % 10000);
}

absl::Status Dispatcher::ValidateJob(const ktstr::v1::JobSpec& spec, JobSlot* slot) {
  if (spec.test_name().empty()) return absl::InvalidArgumentError("job without a test_name");
  if (absl::Status s = ValidateShape(spec.shape()); !s.ok()) return s;
  if (absl::Status s = ValidateKernelArgs(spec.scheduler().kernel_args()); !s.ok()) return s;
  absl::StatusOr<ResolvedKernel> kernel = kernels_->Resolve(spec.kernel());
  if (!kernel.ok()) return kernel.status();
  absl::StatusOr<std::string> bin = artifacts_->VerifiedPath(spec.test_binary().sha256());
  if (!bin.ok()) {
    return absl::Status(bin.status().code(),
                        absl::StrCat("test binary: ", bin.status().message(),
                                     " (upload it first: UploadArtifact)"));
  }
  JobRequest& r = slot->request;
  r.spec = spec;
  r.kernel_key = kernel->key;
  r.kernel_image_path = kernel->image_path;
  r.kernel_config_path = kernel->config_path;
  r.kernel_release = kernel->release;
  r.kernel_pin = kernel->pin;
  r.test_binary_path = *bin;
  for (const auto& f : spec.support_files()) {
    if (f.guest_path().empty() || f.guest_path()[0] != '/' ||
        f.guest_path().find("..") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("support file guest_path must be absolute without '..': '",
                       f.guest_path(), "'"));
    }
    absl::StatusOr<std::string> p = artifacts_->VerifiedPath(f.artifact().sha256());
    if (!p.ok()) {
      return absl::Status(p.status().code(), absl::StrCat("support file ", f.guest_path(),
                                                          ": ", p.status().message()));
    }
    r.files.push_back({*p, f.guest_path(), f.mode() ? f.mode() : 0644});
  }
  if (spec.has_scheduler() && spec.scheduler().has_binary()) {
    absl::StatusOr<std::string> sched = artifacts_->VerifiedPath(spec.scheduler().binary().sha256());
    if (!sched.ok()) {
      return absl::Status(sched.status().code(), absl::StrCat("scheduler binary: ",
                                                              sched.status().message()));
    }
    r.scheduler_binary_path = *sched;
    for (const auto& f : spec.scheduler().support_files()) {
      absl::StatusOr<std::string> p = artifacts_->VerifiedPath(f.artifact().sha256());
      if (!p.ok() || f.guest_path().empty() || f.guest_path()[0] != '/' ||
          f.guest_path().find("..") != std::string::npos) {
        return p.ok() ? absl::InvalidArgumentError(absl::StrCat(
                            "scheduler support file guest_path must be absolute without '..': '",
                            f.guest_path(), "'"))
                      : absl::Status(p.status().code(), absl::StrCat("scheduler support file ",
                                                                     f.guest_path(), ": ",
                                                                     p.status().message()));
      }
      r.scheduler_files.push_back({*p, f.guest_path(), f.mode() ? f.mode() : 0644});
    }
  }
  uint32_t duration = spec.duration_s() ? spec.duration_s() : options_.default_duration_s;
  r.timeout_s = spec.timeout_s() ? spec.timeout_s()
                                 : duration + options_.boot_allowance_s + options_.slack_s;
  slot->cost = {VcpuCount(spec.shape().topology()), EffectiveMemoryMb(spec.shape())};
  slot->job.set_kernel_key(kernel->key);
  slot->job.set_topology(TopologyString(spec.shape().topology()));
  return absl::OkStatus();
}

absl::StatusOr<Dispatcher::Submitted> Dispatcher::Submit(const ktstr::v1::RunSpec& spec,
                                                         const Caller& caller) {
  if (spec.jobs_size() == 0) return absl::InvalidArgumentError("a run needs at least one job");
  auto entry = std::make_unique<RunEntry>();
  entry->jobs.resize(spec.jobs_size());
  for (int i = 0; i < spec.jobs_size(); ++i) {
    if (absl::Status s = ValidateJob(spec.jobs(i), &entry->jobs[i]); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("job ", i, " (", spec.jobs(i).test_name(),
                                                 "): ", s.message()));
    }
  }
  absl::MutexLock lock(&mu_);
  if (stopping_ || draining_) return absl::UnavailableError("ktstrd is stopping");
  if (admission_.queued() + spec.jobs_size() > options_.max_queued_jobs) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "queue full (", admission_.queued(), " jobs queued); try again later"));
  }
  const std::string run_id = NewRunId();
  const int64_t now = NowMs();
  ktstr::v1::Run& run = entry->run;
  run.set_run_id(run_id);
  run.mutable_owner()->set_uid(caller.uid);
  run.mutable_owner()->set_gid(caller.gid);
  run.mutable_owner()->set_pid(caller.pid);
  run.mutable_owner()->set_user_name(UserName(caller.uid));
  run.set_state(ktstr::v1::RUN_STATE_ACTIVE);
  run.set_description(spec.description());
  *run.mutable_labels() = spec.labels();
  run.set_created_unix_ms(now);
  run.set_jobs_total(spec.jobs_size());
  run.set_arch(HostArch());
  ktstr::v1::Run with_jobs = run;
  for (int i = 0; i < spec.jobs_size(); ++i) {
    JobSlot& slot = entry->jobs[i];
    slot.request.run_id = run_id;
    slot.request.index = i;
    slot.request.log_dir = options_.paths.JobLogDir(run_id, i);
    slot.job.set_job_id(absl::StrCat(run_id, "/", i));
    slot.job.set_index(i);
    *slot.job.mutable_spec() = spec.jobs(i);
    slot.job.set_state(ktstr::v1::JOB_STATE_QUEUED);
    slot.job.set_queued_unix_ms(now);
    slot.abort = std::make_shared<AbortSignal>();
    *with_jobs.add_jobs() = slot.job;
  }
  // Recorded before anyone hears of the run, so a crash right after leaves a trace.
  if (absl::Status s = results_->InsertRun(with_jobs); !s.ok()) return s;
  entry->events = std::make_shared<RunEventLog>();
  entry->submitted_at = absl::Now();
  entry->unfinished = spec.jobs_size();
  RunEvent accepted;
  accepted.mutable_accepted()->set_jobs(spec.jobs_size());
  Emit(*entry, accepted);
  for (int i = 0; i < spec.jobs_size(); ++i) {
    admission_.Enqueue(run_id, i, entry->jobs[i].cost);
    executor_->NoteDemand(entry->jobs[i].request.kernel_key, spec.jobs(i),
                          entry->jobs[i].request.kernel_image_path);
  }
  for (int i = 0; i < spec.jobs_size(); ++i) {
    RunEvent q;
    q.mutable_queued()->set_job_index(i);
    q.mutable_queued()->set_queue_position(std::max(0, admission_.Position(run_id, i)));
    Emit(*entry, q);
  }
  spdlog::info("run {} from uid {} pid {}: {} jobs", run_id, caller.uid, caller.pid,
               spec.jobs_size());
  Submitted out{run_id, entry->events};
  runs_[run_id] = std::move(entry);
  work_ = true;
  return out;
}

void Dispatcher::Emit(RunEntry& entry, RunEvent ev) {
  ev.set_run_id(entry.run.run_id());
  ev.set_time_unix_ms(NowMs());
  entry.events->Append(ev);
}

void Dispatcher::Loop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    // When stopping, wake only for finished job threads: an always-true condition would
    // never release mu_ and the job threads could not finish.
    auto ready = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return work_ || (stopping_ && (!done_threads_.empty() || job_threads_.empty()));
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(250));
    work_ = false;
    for (const std::string& key : done_threads_) {
      auto it = job_threads_.find(key);
      if (it != job_threads_.end()) {
        it->second.join();
        job_threads_.erase(it);
      }
    }
    done_threads_.clear();
    const absl::Time now = absl::Now();
    for (auto& [id, entry] : runs_) {
      for (JobSlot& slot : entry->jobs) {
        if (slot.running && !slot.finished && now > slot.deadline && !slot.abort->aborted()) {
          spdlog::warn("job {} timed out after {}s; killing its VM", slot.job.job_id(),
                       slot.request.timeout_s);
          slot.abort->Abort(AbortReason::kTimeout);
        }
      }
    }
    if (stopping_) {
      if (job_threads_.empty()) break;
      continue;
    }
    while (std::optional<QueuedJobRef> ref = admission_.Next()) {
      if (auto h = holders_.find(ref->run_id); h != holders_.end()) {
        h->second.granted = true;  // HoldBudget's caller wakes up
      } else {
        StartJobLocked(*ref);
      }
    }
  }
  loop_exited_ = true;
}

void Dispatcher::StartJobLocked(const QueuedJobRef& ref) {
  RunEntry& entry = *runs_.at(ref.run_id);
  JobSlot& slot = entry.jobs[ref.index];
  if (slot.cost.vcpus > options_.budget.vcpus || slot.cost.memory_mb > options_.budget.memory_mb) {
    spdlog::warn("job {} needs {} vCPUs / {} MiB, over the host budget ({} / {}); running it"
                 " alone", slot.job.job_id(), slot.cost.vcpus, slot.cost.memory_mb,
                 options_.budget.vcpus, options_.budget.memory_mb);
  }
  slot.running = true;
  slot.admitted_at = absl::Now();
  slot.deadline = slot.admitted_at + absl::Seconds(slot.request.timeout_s);
  slot.job.set_state(ktstr::v1::JOB_STATE_ADMITTED);
  (void)results_->UpdateJobProgress(slot.job);
  ++running_;
  std::string key = slot.job.job_id();
  job_threads_[key] = std::thread([this, run_id = ref.run_id, index = ref.index] {
    RunJob(run_id, index);
  });
}

void Dispatcher::RunJob(std::string run_id, uint32_t index) {
  JobRequest req;
  std::shared_ptr<AbortSignal> abort;
  std::shared_ptr<RunEventLog> events;
  {
    absl::MutexLock lock(&mu_);
    JobSlot& slot = runs_.at(run_id)->jobs[index];
    req = slot.request;
    abort = slot.abort;
  }
  JobProgress progress;
  progress.vm_assigned = [&](const std::string& vm_id, bool warm, double ready_s) {
    absl::MutexLock lock(&mu_);
    RunEntry& entry = *runs_.at(run_id);
    JobSlot& slot = entry.jobs[index];
    slot.job.set_state(ktstr::v1::JOB_STATE_STARTING);
    slot.job.set_warm_vm(warm);
    RunEvent ev;
    auto* a = ev.mutable_vm_assigned();
    a->set_job_index(index);
    a->set_vm_id(vm_id);
    a->set_warm(warm);
    a->set_vm_ready_s(ready_s);
    Emit(entry, ev);
  };
  progress.started = [&]() {
    absl::MutexLock lock(&mu_);
    RunEntry& entry = *runs_.at(run_id);
    JobSlot& slot = entry.jobs[index];
    slot.job.set_state(ktstr::v1::JOB_STATE_RUNNING);
    slot.job.set_started_unix_ms(NowMs());
    slot.job.set_startup_s(absl::ToDoubleSeconds(absl::Now() - entry.submitted_at));
    (void)results_->UpdateJobProgress(slot.job);
    RunEvent ev;
    ev.mutable_started()->set_job_index(index);
    Emit(entry, ev);
  };
  progress.output = [&](ktstr::v1::JobOutput::Stream stream, const std::string& line) {
    absl::MutexLock lock(&mu_);
    RunEntry& entry = *runs_.at(run_id);
    RunEvent ev;
    ev.mutable_output()->set_job_index(index);
    ev.mutable_output()->set_stream(stream);
    ev.mutable_output()->set_line(line);
    Emit(entry, ev);
  };
  ExecutionOutcome out = executor_->Execute(req, progress, *abort);
  VerdictInputs in;
  in.abort = abort->reason();
  in.agent_result = std::move(out.agent_result);
  in.crash = std::move(out.crash);
  in.infra_error = std::move(out.infra_error);
  in.console_tail = std::move(out.console_tail);
  in.timeout_s = req.timeout_s;
  {
    absl::MutexLock lock(&mu_);
    JobSlot& slot = runs_.at(run_id)->jobs[index];
    slot.job.set_console_log_path(out.console_log_path);
    slot.job.set_scheduler_log_path(out.scheduler_log_path);
  }
  CompleteJob(run_id, index, MergeVerdict(in), /*holds_budget=*/true);
  absl::MutexLock lock(&mu_);
  done_threads_.push_back(absl::StrCat(run_id, "/", index));
  work_ = true;
}

void Dispatcher::CompleteJob(const std::string& run_id, uint32_t index, Verdict verdict,
                             bool holds_budget) {
  Job job;
  absl::Time submitted;
  {
    absl::MutexLock lock(&mu_);
    RunEntry& entry = *runs_.at(run_id);
    JobSlot& slot = entry.jobs[index];
    submitted = entry.submitted_at;
    job = slot.job;
  }
  const int64_t now = NowMs();
  job.set_state(ktstr::v1::JOB_STATE_FINISHED);
  job.set_finished_unix_ms(now);
  job.set_wall_s(absl::ToDoubleSeconds(absl::Now() - submitted));
  if (job.started_unix_ms() > 0) {
    job.set_test_s(verdict.has_report() && verdict.report().duration_s() > 0
                       ? verdict.report().duration_s()
                       : (now - job.started_unix_ms()) / 1000.0);
  }
  *job.mutable_verdict() = std::move(verdict);
  // The result is durable before any watcher hears of it.
  if (absl::Status s = results_->FinishJob(run_id, job); !s.ok()) {
    spdlog::error("storing the result of {} failed: {}", job.job_id(), s.ToString());
  }
  spdlog::info("job {} {} {}", job.job_id(), ktstr::v1::VerdictKindName(job.verdict().kind()),
               job.verdict().reason());
  absl::MutexLock lock(&mu_);
  RunEntry& entry = *runs_.at(run_id);
  JobSlot& slot = entry.jobs[index];
  slot.job = job;
  slot.finished = true;
  if (holds_budget) {
    admission_.Release(slot.cost);
    slot.running = false;
    --running_;
  }
  RunEvent fin;
  fin.mutable_finished()->set_job_index(index);
  *fin.mutable_finished()->mutable_job() = job;
  Emit(entry, fin);
  work_ = true;
  if (--entry.unfinished > 0) return;
  auto state = entry.cancelled ? ktstr::v1::RUN_STATE_CANCELLED : ktstr::v1::RUN_STATE_FINISHED;
  if (absl::Status s = results_->FinishRun(run_id, state, now); !s.ok()) {
    spdlog::error("closing run {} failed: {}", run_id, s.ToString());
  }
  RunEvent done;
  absl::StatusOr<ktstr::v1::Run> summary = results_->GetRun(run_id, false);
  *done.mutable_run_finished()->mutable_run() = summary.ok() ? *summary : entry.run;
  Emit(entry, done);
  spdlog::info("run {} finished", run_id);
  runs_.erase(run_id);
}

absl::StatusOr<uint32_t> Dispatcher::Cancel(const std::string& run_id, const Caller& caller) {
  std::vector<uint32_t> queued;
  uint32_t stopped = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) {
      absl::StatusOr<ktstr::v1::Run> run = results_->GetRun(run_id, false);
      if (!run.ok()) return run.status();
      if (absl::Status s = CheckOwner(*run, caller); !s.ok()) return s;
      return 0u;  // already finished: nothing to stop
    }
    RunEntry& entry = *it->second;
    if (absl::Status s = CheckOwner(entry.run, caller); !s.ok()) return s;
    entry.cancelled = true;
    queued = admission_.RemoveRun(run_id);
    for (JobSlot& slot : entry.jobs) {
      if (slot.running && !slot.finished && !slot.abort->aborted()) {
        slot.abort->Abort(AbortReason::kCancelled);
        ++stopped;
      }
    }
  }
  for (uint32_t idx : queued) {
    CompleteJob(run_id, idx, SimpleVerdict(ktstr::v1::VERDICT_KIND_CANCELLED, "cancelled"),
                /*holds_budget=*/false);
  }
  spdlog::info("run {} cancelled by uid {}: {} queued, {} running", run_id, caller.uid,
               queued.size(), stopped);
  return stopped + static_cast<uint32_t>(queued.size());
}

DispatcherCounts Dispatcher::Counts() {
  absl::MutexLock lock(&mu_);
  DispatcherCounts c;
  c.runs_active = static_cast<uint32_t>(runs_.size());
  c.jobs_queued = static_cast<uint32_t>(admission_.queued());
  c.jobs_running = running_;
  c.in_use = admission_.in_use();
  c.budget = admission_.budget();
  return c;
}

void Dispatcher::Shutdown(bool drain) {
  std::vector<std::pair<std::string, uint32_t>> queued;
  {
    absl::MutexLock lock(&mu_);
    if (drain && !stopping_) {
      auto idle = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return runs_.empty(); };
      draining_ = true;  // no new runs; queued ones still run
      mu_.Await(absl::Condition(&idle));
    }
    stopping_ = true;
    work_ = true;
    for (auto& [id, entry] : runs_) {
      for (uint32_t idx : admission_.RemoveRun(id)) queued.emplace_back(id, idx);
      for (JobSlot& slot : entry->jobs) {
        if (slot.running && !slot.finished) slot.abort->Abort(AbortReason::kShutdown);
      }
    }
  }
  for (const auto& [id, idx] : queued) {
    CompleteJob(id, idx,
                SimpleVerdict(ktstr::v1::VERDICT_KIND_CANCELLED, "cancelled: ktstrd stopped"),
                false);
  }
  if (loop_.joinable()) loop_.join();
  std::vector<AbortSignal*> holds;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, h] : holders_) holds.push_back(h.abort);
  }
  for (AbortSignal* a : holds) a->Abort(AbortReason::kShutdown);  // kills shell VMs
  absl::MutexLock lock(&mu_);
  auto no_holds = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return holders_.empty(); };
  mu_.Await(absl::Condition(&no_holds));
}

}  // namespace ktstr::daemon
