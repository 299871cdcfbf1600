// SQLite results: runs, jobs, verdicts, detail messages, per-cgroup stats, metrics and the
// paths of kept logs. WAL mode; the schema is versioned with PRAGMA user_version and
// migrated forward at Open. One connection, serialised by a mutex (the daemon's single
// SQLite writer). Every write is its own transaction and is durable when the call returns.
#ifndef KTSTR_DAEMON_RESULT_STORE_H_
#define KTSTR_DAEMON_RESULT_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/ktstr/v1/run.pb.h"

struct sqlite3;

namespace ktstr::daemon {

class ResultStore {
 public:
  // Creates the file and parent directories if needed; migrates older schemas forward.
  // FAILED_PRECONDITION for a database written by a newer ktstrd.
  static absl::StatusOr<std::unique_ptr<ResultStore>> Open(const std::string& path);
  ~ResultStore();

  static constexpr int kSchemaVersion = 2;
  int schema_version();

  // A new run and its jobs (as given, normally QUEUED).
  absl::Status InsertRun(const ktstr::v1::Run& run);
  // Non-final job transitions (ADMITTED, STARTING, RUNNING) and their timestamps.
  absl::Status UpdateJobProgress(const ktstr::v1::Job& job);
  // A finished job: its row, verdict, details, cgroup stats and metrics, in one transaction.
  absl::Status FinishJob(const std::string& run_id, const ktstr::v1::Job& job);
  absl::Status FinishRun(const std::string& run_id, ktstr::v1::RunState state,
                         int64_t finished_unix_ms);

  // NOT_FOUND for an unknown id. Jobs are filled when `with_jobs`.
  absl::StatusOr<ktstr::v1::Run> GetRun(const std::string& run_id, bool with_jobs);
  // Newest first; `uid` restricts to one owner; `before_run_id` pages.
  absl::StatusOr<std::vector<ktstr::v1::Run>> ListRuns(std::optional<uint32_t> uid,
                                                       int limit,
                                                       const std::string& before_run_id);
  // Runs still ACTIVE (after a restart: the ones the previous process left behind).
  absl::StatusOr<std::vector<std::string>> ActiveRunIds();
  // Startup recovery: every unfinished job becomes FINISHED with an INTERRUPTED verdict and
  // every ACTIVE run is closed. Returns the number of jobs marked.
  absl::StatusOr<int> MarkInterrupted(int64_t now_unix_ms);

 private:
  explicit ResultStore(sqlite3* db) : db_(db) {}
  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Exec(const std::string& sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteJobLocked(const std::string& run_id, const ktstr::v1::Job& job)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<ktstr::v1::Job>> LoadJobsLocked(const std::string& run_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status FillCountsLocked(ktstr::v1::Run* run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_RESULT_STORE_H_
