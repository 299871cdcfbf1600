#include "daemon/result_store.h"

#include <sqlite3.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "daemon/fs_util.h"
#include "daemon/sqlite_stmt.h"

namespace ktstr::daemon {
namespace {

using ktstr::v1::Job;
using ktstr::v1::Run;

// Forward migrations: kMigrations[i] takes user_version i to i + 1. Never edit an entry
// that has shipped; append a new one.
const char* const kMigrations[] = {
    // 0 -> 1: runs and jobs.
    R"sql(
    CREATE TABLE runs (
      run_id TEXT PRIMARY KEY, uid INTEGER, gid INTEGER, pid INTEGER, user_name TEXT,
      state INTEGER, description TEXT, labels BLOB, created_unix_ms INTEGER,
      finished_unix_ms INTEGER, arch TEXT, jobs_total INTEGER);
    CREATE TABLE jobs (
      run_id TEXT NOT NULL, job_index INTEGER NOT NULL, test_name TEXT, topology TEXT,
      kernel_key TEXT, state INTEGER, verdict_kind INTEGER, reason TEXT,
      console_excerpt TEXT, queued_unix_ms INTEGER, started_unix_ms INTEGER,
      finished_unix_ms INTEGER, wall_s REAL, test_s REAL, startup_s REAL, warm_vm INTEGER,
      console_log_path TEXT, scheduler_log_path TEXT, spec BLOB, verdict BLOB,
      PRIMARY KEY (run_id, job_index));
    CREATE INDEX runs_by_uid ON runs(uid, run_id);
    )sql",
    // 1 -> 2: queryable verdict details, per-cgroup stats and metrics.
    R"sql(
    CREATE TABLE details (run_id TEXT, job_index INTEGER, kind INTEGER, message TEXT,
      cgroup TEXT);
    CREATE TABLE cgroup_stats (run_id TEXT, job_index INTEGER, name TEXT, workers INTEGER,
      cpus_used INTEGER, avg_off_cpu_pct REAL, spread_pct REAL, max_gap_ms INTEGER,
      total_migrations INTEGER, total_iterations INTEGER, p99_wake_latency_us REAL);
    CREATE TABLE metrics (run_id TEXT, job_index INTEGER, name TEXT, value REAL, unit TEXT);
    CREATE INDEX details_by_job ON details(run_id, job_index);
    CREATE INDEX cgroup_stats_by_job ON cgroup_stats(run_id, job_index);
    CREATE INDEX metrics_by_job ON metrics(run_id, job_index);
    )sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == ResultStore::kSchemaVersion);

}  // namespace

absl::StatusOr<std::unique_ptr<ResultStore>> ResultStore::Open(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (absl::Status s = MakeDirs(path.substr(0, slash), 0700); !s.ok()) return s;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string err = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::InternalError(absl::StrCat("cannot open results database ", path, ": ", err));
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<ResultStore> store(new ResultStore(db));
  absl::MutexLock lock(&store->mu_);
  // WAL: readers never block the writer; synchronous=NORMAL is durable across a process
  // kill (the WAL is in the page cache); FULL would also survive power loss.
  if (absl::Status s = store->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                   " PRAGMA foreign_keys=ON;");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = store->Migrate(); !s.ok()) return s;
  return store;
}

ResultStore::~ResultStore() {
  absl::MutexLock lock(&mu_);
  sqlite3_close(db_);
}

absl::Status ResultStore::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("sqlite: ", msg));
  }
  return absl::OkStatus();
}

int ResultStore::schema_version() {
  absl::MutexLock lock(&mu_);
  SqliteStmt q(db_, "PRAGMA user_version");
  return q.Step() ? static_cast<int>(q.Int(0)) : -1;
}

absl::Status ResultStore::Migrate() {
  int version;
  {
    SqliteStmt q(db_, "PRAGMA user_version");
    version = q.Step() ? static_cast<int>(q.Int(0)) : 0;
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "results database schema version ", version, " is newer than this ktstrd (",
        kSchemaVersion, "); use a newer ktstrd or another --results_db"));
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    absl::Status s = Exec(absl::StrCat("BEGIN; ", kMigrations[v], "; PRAGMA user_version = ",
                                       v + 1, "; COMMIT;"));
    if (!s.ok()) {
      (void)Exec("ROLLBACK;");
      return absl::InternalError(absl::StrCat("migrating results schema to ", v + 1, ": ",
                                              s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status ResultStore::InsertRun(const Run& run) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Exec("BEGIN"); !s.ok()) return s;
  absl::Cleanup rollback = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { (void)Exec("ROLLBACK"); };
  ktstr::v1::Run labels_only;
  *labels_only.mutable_labels() = run.labels();
  SqliteStmt ins(db_,
                 "INSERT INTO runs (run_id, uid, gid, pid, user_name, state, description,"
                 " labels, created_unix_ms, finished_unix_ms, arch, jobs_total)"
                 " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
  ins.Bind(1, run.run_id()).Bind(2, int64_t{run.owner().uid()}).Bind(3, int64_t{run.owner().gid()})
      .Bind(4, int64_t{run.owner().pid()}).Bind(5, run.owner().user_name())
      .Bind(6, int64_t{run.state()}).Bind(7, run.description())
      .BindBlob(8, labels_only.SerializeAsString()).Bind(9, int64_t{run.created_unix_ms()})
      .Bind(10, int64_t{run.finished_unix_ms()}).Bind(11, run.arch())
      .Bind(12, int64_t{run.jobs_total()});
  if (absl::Status s = ins.Run(); !s.ok()) return s;
  for (const Job& job : run.jobs()) {
    if (absl::Status s = WriteJobLocked(run.run_id(), job); !s.ok()) return s;
  }
  std::move(rollback).Cancel();
  return Exec("COMMIT");
}

absl::Status ResultStore::WriteJobLocked(const std::string& run_id, const Job& job) {
  SqliteStmt up(db_,
                "INSERT OR REPLACE INTO jobs (run_id, job_index, test_name, topology,"
                " kernel_key, state, verdict_kind, reason, console_excerpt, queued_unix_ms,"
                " started_unix_ms, finished_unix_ms, wall_s, test_s, startup_s, warm_vm,"
                " console_log_path, scheduler_log_path, spec, verdict)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  up.Bind(1, run_id).Bind(2, int64_t{job.index()}).Bind(3, job.spec().test_name())
      .Bind(4, job.topology()).Bind(5, job.kernel_key()).Bind(6, int64_t{job.state()})
      .Bind(7, int64_t{job.verdict().kind()}).Bind(8, job.verdict().reason())
      .Bind(9, job.verdict().console_excerpt()).Bind(10, int64_t{job.queued_unix_ms()})
      .Bind(11, int64_t{job.started_unix_ms()}).Bind(12, int64_t{job.finished_unix_ms()})
      .Bind(13, job.wall_s()).Bind(14, job.test_s()).Bind(15, job.startup_s())
      .Bind(16, int64_t{job.warm_vm()}).Bind(17, job.console_log_path())
      .Bind(18, job.scheduler_log_path()).BindBlob(19, job.spec().SerializeAsString())
      .BindBlob(20, job.verdict().SerializeAsString());
  return up.Run();
}

absl::Status ResultStore::UpdateJobProgress(const Job& job) {
  absl::MutexLock lock(&mu_);
  SqliteStmt up(db_,
                "UPDATE jobs SET state = ?, started_unix_ms = ?, startup_s = ?, warm_vm = ?"
                " WHERE run_id = ? AND job_index = ? AND state != ?");
  std::string run_id = job.job_id().substr(0, job.job_id().find('/'));
  up.Bind(1, int64_t{job.state()}).Bind(2, int64_t{job.started_unix_ms()})
      .Bind(3, job.startup_s()).Bind(4, int64_t{job.warm_vm()}).Bind(5, run_id)
      .Bind(6, int64_t{job.index()}).Bind(7, int64_t{ktstr::v1::JOB_STATE_FINISHED});
  return up.Run();
}

absl::Status ResultStore::FinishJob(const std::string& run_id, const Job& job) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Exec("BEGIN"); !s.ok()) return s;
  absl::Cleanup rollback = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { (void)Exec("ROLLBACK"); };
  if (absl::Status s = WriteJobLocked(run_id, job); !s.ok()) return s;
  const int64_t idx = job.index();
  for (const char* table : {"details", "cgroup_stats", "metrics"}) {
    SqliteStmt del(db_, absl::StrCat("DELETE FROM ", table,
                                     " WHERE run_id = ? AND job_index = ?").c_str());
    del.Bind(1, run_id).Bind(2, idx);
    if (absl::Status s = del.Run(); !s.ok()) return s;
  }
  const auto& report = job.verdict().report();
  for (const auto& d : report.details()) {
    SqliteStmt ins(db_, "INSERT INTO details VALUES (?,?,?,?,?)");
    ins.Bind(1, run_id).Bind(2, idx).Bind(3, int64_t{d.kind()}).Bind(4, d.message())
        .Bind(5, d.cgroup());
    if (absl::Status s = ins.Run(); !s.ok()) return s;
  }
  for (const auto& c : report.stats().cgroups()) {
    SqliteStmt ins(db_, "INSERT INTO cgroup_stats VALUES (?,?,?,?,?,?,?,?,?,?,?)");
    ins.Bind(1, run_id).Bind(2, idx).Bind(3, c.name()).Bind(4, int64_t{c.workers()})
        .Bind(5, int64_t{c.cpus_used()}).Bind(6, c.avg_off_cpu_pct()).Bind(7, c.spread_pct())
        .Bind(8, static_cast<int64_t>(c.max_gap_ms()))
        .Bind(9, static_cast<int64_t>(c.total_migrations()))
        .Bind(10, static_cast<int64_t>(c.total_iterations())).Bind(11, c.p99_wake_latency_us());
    if (absl::Status s = ins.Run(); !s.ok()) return s;
  }
  for (const auto& m : report.metrics()) {
    SqliteStmt ins(db_, "INSERT INTO metrics VALUES (?,?,?,?,?)");
    ins.Bind(1, run_id).Bind(2, idx).Bind(3, m.name()).Bind(4, m.value()).Bind(5, m.unit());
    if (absl::Status s = ins.Run(); !s.ok()) return s;
  }
  std::move(rollback).Cancel();
  return Exec("COMMIT");
}

absl::Status ResultStore::FinishRun(const std::string& run_id, ktstr::v1::RunState state,
                                    int64_t finished_unix_ms) {
  absl::MutexLock lock(&mu_);
  SqliteStmt up(db_, "UPDATE runs SET state = ?, finished_unix_ms = ? WHERE run_id = ?");
  up.Bind(1, int64_t{state}).Bind(2, finished_unix_ms).Bind(3, run_id);
  return up.Run();
}

absl::StatusOr<std::vector<Job>> ResultStore::LoadJobsLocked(const std::string& run_id) {
  SqliteStmt q(db_,
               "SELECT job_index, topology, kernel_key, state, queued_unix_ms,"
               " started_unix_ms, finished_unix_ms, wall_s, test_s, startup_s, warm_vm,"
               " console_log_path, scheduler_log_path, spec, verdict FROM jobs"
               " WHERE run_id = ? ORDER BY job_index");
  q.Bind(1, run_id);
  std::vector<Job> jobs;
  while (q.Step()) {
    Job j;
    j.set_index(static_cast<uint32_t>(q.Int(0)));
    j.set_job_id(absl::StrCat(run_id, "/", j.index()));
    j.set_topology(q.Text(1));
    j.set_kernel_key(q.Text(2));
    j.set_state(static_cast<ktstr::v1::JobState>(q.Int(3)));
    j.set_queued_unix_ms(q.Int(4));
    j.set_started_unix_ms(q.Int(5));
    j.set_finished_unix_ms(q.Int(6));
    j.set_wall_s(q.Double(7));
    j.set_test_s(q.Double(8));
    j.set_startup_s(q.Double(9));
    j.set_warm_vm(q.Int(10) != 0);
    j.set_console_log_path(q.Text(11));
    j.set_scheduler_log_path(q.Text(12));
    j.mutable_spec()->ParseFromString(q.Text(13));
    j.mutable_verdict()->ParseFromString(q.Text(14));
    jobs.push_back(std::move(j));
  }
  if (absl::Status s = q.status(); !s.ok()) return s;
  return jobs;
}

absl::Status ResultStore::FillCountsLocked(Run* run) {
  SqliteStmt q(db_,
               "SELECT SUM(verdict_kind = ?1 AND state = ?4), SUM(verdict_kind = ?2 AND"
               " state = ?4), SUM(state = ?4 AND verdict_kind NOT IN (?1, ?2))"
               " FROM jobs WHERE run_id = ?3");
  q.Bind(1, int64_t{ktstr::v1::VERDICT_KIND_PASS}).Bind(2, int64_t{ktstr::v1::VERDICT_KIND_SKIP})
      .Bind(3, run->run_id()).Bind(4, int64_t{ktstr::v1::JOB_STATE_FINISHED});
  if (q.Step()) {
    run->set_jobs_passed(static_cast<uint32_t>(q.Int(0)));
    run->set_jobs_skipped(static_cast<uint32_t>(q.Int(1)));
    run->set_jobs_failed(static_cast<uint32_t>(q.Int(2)));
  }
  return q.status();
}

namespace {
constexpr const char* kRunColumns =
    "SELECT run_id, uid, gid, pid, user_name, state, description, labels, created_unix_ms,"
    " finished_unix_ms, arch, jobs_total FROM runs";

Run RunFromRow(const SqliteStmt& q) {
  Run r;
  r.set_run_id(q.Text(0));
  r.mutable_owner()->set_uid(static_cast<uint32_t>(q.Int(1)));
  r.mutable_owner()->set_gid(static_cast<uint32_t>(q.Int(2)));
  r.mutable_owner()->set_pid(static_cast<uint32_t>(q.Int(3)));
  r.mutable_owner()->set_user_name(q.Text(4));
  r.set_state(static_cast<ktstr::v1::RunState>(q.Int(5)));
  r.set_description(q.Text(6));
  Run labels;
  labels.ParseFromString(q.Text(7));
  *r.mutable_labels() = labels.labels();
  r.set_created_unix_ms(q.Int(8));
  r.set_finished_unix_ms(q.Int(9));
  r.set_arch(q.Text(10));
  r.set_jobs_total(static_cast<uint32_t>(q.Int(11)));
  return r;
}
}  // namespace

absl::StatusOr<Run> ResultStore::GetRun(const std::string& run_id, bool with_jobs) {
  absl::MutexLock lock(&mu_);
  SqliteStmt q(db_, absl::StrCat(kRunColumns, " WHERE run_id = ?").c_str());
  q.Bind(1, run_id);
  if (!q.Step()) {
    if (absl::Status s = q.status(); !s.ok()) return s;
    return absl::NotFoundError(absl::StrCat("no run '", run_id, "' (see: ktstr-client stats list)"));
  }
  Run run = RunFromRow(q);
  if (absl::Status s = FillCountsLocked(&run); !s.ok()) return s;
  if (with_jobs) {
    absl::StatusOr<std::vector<Job>> jobs = LoadJobsLocked(run_id);
    if (!jobs.ok()) return jobs.status();
    for (Job& j : *jobs) *run.add_jobs() = std::move(j);
  }
  return run;
}

absl::StatusOr<std::vector<Run>> ResultStore::ListRuns(std::optional<uint32_t> uid, int limit,
                                                       const std::string& before_run_id) {
  absl::MutexLock lock(&mu_);
  std::string sql = absl::StrCat(kRunColumns, " WHERE (?1 < 0 OR uid = ?1) AND (?2 = '' OR"
                                 " run_id < ?2) ORDER BY run_id DESC LIMIT ?3");
  SqliteStmt q(db_, sql.c_str());
  q.Bind(1, uid ? int64_t{*uid} : int64_t{-1}).Bind(2, before_run_id).Bind(3, int64_t{limit});
  std::vector<Run> runs;
  while (q.Step()) runs.push_back(RunFromRow(q));
  if (absl::Status s = q.status(); !s.ok()) return s;
  for (Run& r : runs) {
    if (absl::Status s = FillCountsLocked(&r); !s.ok()) return s;
  }
  return runs;
}

absl::StatusOr<std::vector<std::string>> ResultStore::ActiveRunIds() {
  absl::MutexLock lock(&mu_);
  SqliteStmt q(db_, "SELECT run_id FROM runs WHERE state = ?");
  q.Bind(1, int64_t{ktstr::v1::RUN_STATE_ACTIVE});
  std::vector<std::string> ids;
  while (q.Step()) ids.push_back(q.Text(0));
  if (absl::Status s = q.status(); !s.ok()) return s;
  return ids;
}

absl::StatusOr<int> ResultStore::MarkInterrupted(int64_t now_unix_ms) {
  absl::MutexLock lock(&mu_);
  ktstr::v1::Verdict v;
  v.set_kind(ktstr::v1::VERDICT_KIND_INTERRUPTED);
  v.set_reason("interrupted: the daemon stopped or died while the job was pending");
  if (absl::Status s = Exec("BEGIN"); !s.ok()) return s;
  absl::Cleanup rollback = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { (void)Exec("ROLLBACK"); };
  SqliteStmt up(db_,
                "UPDATE jobs SET state = ?, verdict_kind = ?, reason = ?, verdict = ?,"
                " finished_unix_ms = ? WHERE state != ?");
  up.Bind(1, int64_t{ktstr::v1::JOB_STATE_FINISHED}).Bind(2, int64_t{v.kind()})
      .Bind(3, v.reason()).BindBlob(4, v.SerializeAsString()).Bind(5, now_unix_ms)
      .Bind(6, int64_t{ktstr::v1::JOB_STATE_FINISHED});
  if (absl::Status s = up.Run(); !s.ok()) return s;
  int changed = sqlite3_changes(db_);
  SqliteStmt runs(db_, "UPDATE runs SET state = ?, finished_unix_ms = ? WHERE state = ?");
  runs.Bind(1, int64_t{ktstr::v1::RUN_STATE_FINISHED}).Bind(2, now_unix_ms)
      .Bind(3, int64_t{ktstr::v1::RUN_STATE_ACTIVE});
  if (absl::Status s = runs.Run(); !s.ok()) return s;
  std::move(rollback).Cancel();
  if (absl::Status s = Exec("COMMIT"); !s.ok()) return s;
  return changed;
}

}  // namespace ktstr::daemon
