#include "daemon/result_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace ktstr::daemon {
namespace {

std::string DbPath(const char* name) {
  std::string p = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  unlink(p.c_str());
  unlink((p + "-wal").c_str());
  unlink((p + "-shm").c_str());
  return p;
}

ktstr::v1::Run MakeRun(const std::string& id, uint32_t uid, int jobs) {
  ktstr::v1::Run run;
  run.set_run_id(id);
  run.mutable_owner()->set_uid(uid);
  run.mutable_owner()->set_user_name("u" + std::to_string(uid));
  run.set_state(ktstr::v1::RUN_STATE_ACTIVE);
  run.set_jobs_total(jobs);
  run.set_arch("x86_64");
  (*run.mutable_labels())["project_commit"] = "abc1234";
  for (int i = 0; i < jobs; ++i) {
    auto* j = run.add_jobs();
    j->set_job_id(id + "/" + std::to_string(i));
    j->set_index(i);
    j->mutable_spec()->set_test_name("t" + std::to_string(i));
    j->set_state(ktstr::v1::JOB_STATE_QUEUED);
    j->set_topology("1n2l4c1t");
  }
  return run;
}

TEST(ResultStore, RoundTripsRunsJobsVerdictsAndStats) {
  std::string path = DbPath("rt.db");
  auto store = ResultStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->schema_version(), ResultStore::kSchemaVersion);
  ASSERT_TRUE((*store)->InsertRun(MakeRun("20260101T000000Z-0001", 1000, 2)).ok());

  ktstr::v1::Job job = MakeRun("20260101T000000Z-0001", 1000, 2).jobs(1);
  job.set_state(ktstr::v1::JOB_STATE_FINISHED);
  job.mutable_verdict()->set_kind(ktstr::v1::VERDICT_KIND_FAIL);
  job.mutable_verdict()->set_reason("stuck 3500ms on cpu1");
  auto* rep = job.mutable_verdict()->mutable_report();
  rep->add_details()->set_message("stuck 3500ms on cpu1");
  rep->mutable_stats()->add_cgroups()->set_name("cg_0");
  auto* m = rep->add_metrics();
  m->set_name("worst_spread");
  m->set_value(12.5);
  job.set_console_log_path("/var/log/x");
  ASSERT_TRUE((*store)->FinishJob("20260101T000000Z-0001", job).ok());

  auto run = (*store)->GetRun("20260101T000000Z-0001", true);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->owner().uid(), 1000u);
  EXPECT_EQ(run->labels().at("project_commit"), "abc1234");
  ASSERT_EQ(run->jobs_size(), 2);
  EXPECT_EQ(run->jobs(1).verdict().reason(), "stuck 3500ms on cpu1");
  EXPECT_EQ(run->jobs(1).verdict().report().metrics(0).value(), 12.5);
  EXPECT_EQ(run->jobs(1).console_log_path(), "/var/log/x");
  EXPECT_EQ(run->jobs_failed(), 1u);
  EXPECT_EQ(run->jobs_passed(), 0u);

  // The queryable tables hold the detail, cgroup and metric rows.
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  for (const char* table : {"details", "cgroup_stats", "metrics"}) {
    sqlite3_stmt* st;
    std::string sql = std::string("SELECT COUNT(*) FROM ") + table;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(st, 0), 1) << table;
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
}

TEST(ResultStore, ListsPerOwnerNewestFirst) {
  auto store = ResultStore::Open(DbPath("list.db"));
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->InsertRun(MakeRun("20260101T000000Z-0001", 1000, 1)).ok());
  ASSERT_TRUE((*store)->InsertRun(MakeRun("20260101T000001Z-0002", 2000, 1)).ok());
  ASSERT_TRUE((*store)->InsertRun(MakeRun("20260101T000002Z-0003", 1000, 1)).ok());
  auto mine = (*store)->ListRuns(1000u, 50, "");
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].run_id(), "20260101T000002Z-0003");
  auto all = (*store)->ListRuns(std::nullopt, 50, "20260101T000002Z-0003");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  EXPECT_EQ((*store)->GetRun("nope", false).status().code(), absl::StatusCode::kNotFound);
}

TEST(ResultStore, ReopenMarksUnfinishedJobsInterrupted) {
  std::string path = DbPath("restart.db");
  {
    auto store = ResultStore::Open(path);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->InsertRun(MakeRun("20260101T000000Z-0001", 1000, 2)).ok());
    ktstr::v1::Job done = MakeRun("20260101T000000Z-0001", 1000, 2).jobs(0);
    done.set_state(ktstr::v1::JOB_STATE_FINISHED);
    done.mutable_verdict()->set_kind(ktstr::v1::VERDICT_KIND_PASS);
    ASSERT_TRUE((*store)->FinishJob("20260101T000000Z-0001", done).ok());
  }
  auto store = ResultStore::Open(path);
  ASSERT_TRUE(store.ok());
  auto marked = (*store)->MarkInterrupted(123);
  ASSERT_TRUE(marked.ok());
  EXPECT_EQ(*marked, 1);
  auto run = (*store)->GetRun("20260101T000000Z-0001", true);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->state(), ktstr::v1::RUN_STATE_FINISHED);
  EXPECT_EQ(run->jobs(0).verdict().kind(), ktstr::v1::VERDICT_KIND_PASS);
  EXPECT_EQ(run->jobs(1).verdict().kind(), ktstr::v1::VERDICT_KIND_INTERRUPTED);
  EXPECT_EQ(run->jobs(1).state(), ktstr::v1::JOB_STATE_FINISHED);
}

TEST(ResultStore, RefusesNewerSchemaAndMigratesOlder) {
  std::string path = DbPath("schema.db");
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(ResultStore::Open(path).status().code(), absl::StatusCode::kFailedPrecondition);

  // A version-1 database (runs and jobs only) gains the version-2 tables.
  std::string old_path = DbPath("v1.db");
  ASSERT_EQ(sqlite3_open(old_path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE runs (run_id TEXT PRIMARY KEY, uid INTEGER, gid INTEGER,"
                         " pid INTEGER, user_name TEXT, state INTEGER, description TEXT,"
                         " labels BLOB, created_unix_ms INTEGER, finished_unix_ms INTEGER,"
                         " arch TEXT, jobs_total INTEGER);"
                         "CREATE TABLE jobs (run_id TEXT NOT NULL, job_index INTEGER NOT NULL,"
                         " test_name TEXT, topology TEXT, kernel_key TEXT, state INTEGER,"
                         " verdict_kind INTEGER, reason TEXT, console_excerpt TEXT,"
                         " queued_unix_ms INTEGER, started_unix_ms INTEGER,"
                         " finished_unix_ms INTEGER, wall_s REAL, test_s REAL, startup_s REAL,"
                         " warm_vm INTEGER, console_log_path TEXT, scheduler_log_path TEXT,"
                         " spec BLOB, verdict BLOB, PRIMARY KEY (run_id, job_index));"
                         "CREATE INDEX runs_by_uid ON runs(uid, run_id);"
                         "PRAGMA user_version = 1;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = ResultStore::Open(old_path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->schema_version(), 2);
  ktstr::v1::Job j = MakeRun("r-1", 1, 1).jobs(0);
  j.mutable_verdict()->mutable_report()->add_metrics()->set_name("m");
  ASSERT_TRUE((*store)->InsertRun(MakeRun("r-1", 1, 1)).ok());
  EXPECT_TRUE((*store)->FinishJob("r-1", j).ok());
}

}  // namespace
}  // namespace ktstr::daemon
