// Dispatcher's read side: owner checks, Watch (live or replayed from SQLite), GetRun,
// ListRuns. Split from dispatcher.cc, which admits and runs jobs.
#include "daemon/dispatcher.h"

#include "absl/strings/str_cat.h"

namespace ktstr::daemon {

using ktstr::v1::Job;
using ktstr::v1::RunEvent;

bool Dispatcher::CallerIsPrivileged(const Caller& c) const {
  return c.uid == 0 || c.uid == options_.daemon_uid;
}

absl::Status Dispatcher::CheckOwner(const ktstr::v1::Run& run, const Caller& caller) const {
  if (run.owner().uid() == caller.uid || caller.uid == 0) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("run ", run.run_id(), " belongs to ",
                                                  run.owner().user_name(), " (uid ",
                                                  run.owner().uid(), ")"));
}

absl::StatusOr<std::shared_ptr<RunEventLog>> Dispatcher::Watch(const std::string& run_id,
                                                               const Caller& caller) {
  {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(run_id);
    if (it != runs_.end()) {
      if (absl::Status s = CheckOwner(it->second->run, caller); !s.ok()) return s;
      return it->second->events;
    }
  }
  absl::StatusOr<ktstr::v1::Run> run = results_->GetRun(run_id, true);
  if (!run.ok()) return run.status();
  if (absl::Status s = CheckOwner(*run, caller); !s.ok()) return s;
  auto log = std::make_shared<RunEventLog>();
  RunEvent ev;
  ev.set_run_id(run_id);
  ev.mutable_accepted()->set_jobs(run->jobs_total());
  log->Append(ev);
  for (const Job& j : run->jobs()) {
    RunEvent f;
    f.set_run_id(run_id);
    f.set_time_unix_ms(j.finished_unix_ms());
    f.mutable_finished()->set_job_index(j.index());
    *f.mutable_finished()->mutable_job() = j;
    log->Append(f);
  }
  RunEvent done;
  done.set_run_id(run_id);
  run->clear_jobs();
  *done.mutable_run_finished()->mutable_run() = *run;
  log->Append(done);
  return log;
}

absl::StatusOr<ktstr::v1::Run> Dispatcher::GetRun(const std::string& run_id,
                                                  const Caller& caller) {
  std::string id = run_id;
  if (id.empty() || id == "latest") {
    absl::StatusOr<std::vector<ktstr::v1::Run>> runs = results_->ListRuns(caller.uid, 1, "");
    if (!runs.ok()) return runs.status();
    if (runs->empty()) return absl::NotFoundError("you have no runs yet");
    id = (*runs)[0].run_id();
  }
  absl::StatusOr<ktstr::v1::Run> run = results_->GetRun(id, true);
  if (!run.ok()) return run.status();
  if (absl::Status s = CheckOwner(*run, caller); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (auto it = runs_.find(id); it != runs_.end()) {
    // Live states (STARTING, RUNNING) are not all written to SQLite.
    for (const JobSlot& slot : it->second->jobs) {
      if (!slot.finished) *run->mutable_jobs(slot.job.index()) = slot.job;
    }
  }
  return run;
}

absl::StatusOr<std::vector<ktstr::v1::Run>> Dispatcher::ListRuns(
    const Caller& caller, uint32_t limit, bool all_users, const std::string& before_run_id) {
  if (all_users && !CallerIsPrivileged(caller)) {
    return absl::PermissionDeniedError("listing all users' runs needs root");
  }
  std::optional<uint32_t> uid;
  if (!all_users) uid = caller.uid;
  return results_->ListRuns(uid, limit == 0 ? 50 : std::min<uint32_t>(limit, 1000),
                            before_run_id);
}

}  // namespace ktstr::daemon
