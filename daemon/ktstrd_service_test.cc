// ktstrd as a real process on a temporary unix socket and SQLite file, driven over gRPC.
// It runs with --executor=fake (daemon/testing/fake_executor.h): no VMs, so these cases
// check the service, socket credentials, artifacts, scheduling and storage; the VM path is
// covered by the VM tests. Owner isolation: Bazel's sandbox cannot switch uids, so the
// second user is faked ONLY at the accept layer (ktstrd --testonly_fake_peer_cred_file:
// while the file holds "65534 65534", new connections count as that uid); everything after
// accept -- ownership checks, listings, cancel -- is the real code path, exercised by the
// real ktstr-client binary.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/artifact_store.h"
#include "daemon/fs_util.h"
#include "gtest/gtest.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace ktstr::daemon {
namespace {

using ktstr::v1::RunEvent;

class KtstrdProcess {
 public:
  KtstrdProcess(std::string socket, std::string state, std::string kernel_dir)
      : socket_(std::move(socket)), state_(std::move(state)), kernel_dir_(std::move(kernel_dir)) {}
  ~KtstrdProcess() { Kill(SIGKILL); }

  void Start() {
    pid_ = fork();
    if (pid_ == 0) {
      std::string log = state_ + ".log";
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 2);
      execl("daemon/ktstrd", "ktstrd", "--executor=fake", ("--socket=" + socket_).c_str(),
            ("--state_dir=" + state_).c_str(), ("--kernel_dir=" + kernel_dir_).c_str(),
            "--max_artifact_mb=1", "--vcpu_budget=4",
            ("--testonly_fake_peer_cred_file=" + state_ + ".fake_cred").c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
    ASSERT_TRUE(channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(20))))
        << "ktstrd did not come up; see " << state_ << ".log";
    stub_ = ktstr::v1::Ktstrd::NewStub(channel_);
  }

  void Kill(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  ktstr::v1::Ktstrd::Stub* stub() { return stub_.get(); }
  pid_t pid() const { return pid_; }

 private:
  std::string socket_, state_, kernel_dir_;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ktstr::v1::Ktstrd::Stub> stub_;
};

std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration d = absl::Seconds(30)) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(absl::ToChronoTime(absl::Now() + d));
  return c;
}

class KtstrdServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_dir_ = absl::StrCat("/tmp/ktstr_svc_", getpid());
    RemoveTree(socket_dir_);
    tmp_ = std::string(getenv("TEST_TMPDIR")) + "/svc";
    RemoveTree(tmp_);
    ASSERT_TRUE(MakeDirs(tmp_ + "/kernel").ok());
    std::ofstream(tmp_ + "/kernel/vmlinux") << "stand-in kernel (the fake executor boots nothing)";
    daemon_ = std::make_unique<KtstrdProcess>(socket_dir_ + "/ktstrd.sock", tmp_ + "/state",
                                              tmp_ + "/kernel");
    daemon_->Start();
  }
  void TearDown() override {
    daemon_.reset();
    RemoveTree(socket_dir_);
  }

  // Uploads `data` in chunks; returns the response.
  grpc::Status Upload(const std::string& data, uint64_t declared_size, const std::string& sha,
                      ktstr::v1::UploadArtifactResponse* resp) {
    auto ctx = Ctx();
    auto w = daemon_->stub()->UploadArtifact(ctx.get(), resp);
    ktstr::v1::UploadArtifactRequest req;
    req.mutable_header()->set_sha256(sha);
    req.mutable_header()->set_size_bytes(declared_size);
    req.mutable_header()->set_kind(ktstr::v1::ARTIFACT_KIND_TEST_BINARY);
    bool ok = w->Write(req);
    for (size_t off = 0; ok && off < data.size(); off += 7) {
      req.Clear();
      req.set_chunk(data.substr(off, 7));
      ok = w->Write(req);
    }
    w->WritesDone();
    return w->Finish();
  }

  ktstr::v1::ArtifactRef UploadBinary() {
    ktstr::v1::UploadArtifactResponse resp;
    grpc::Status s = Upload(binary_, binary_.size(), Sha256Hex(binary_), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.artifact();
  }

  ktstr::v1::JobSpec Job(const std::string& name, const ktstr::v1::ArtifactRef& bin) {
    ktstr::v1::JobSpec j;
    j.set_test_name(name);
    *j.mutable_test_binary() = bin;
    auto* t = j.mutable_shape()->mutable_topology();
    t->set_numa_nodes(1);
    t->set_llcs(1);
    t->set_cores_per_llc(2);
    t->set_threads_per_core(1);
    return j;
  }

  // Submits and reads the stream to its end.
  grpc::Status SubmitAndDrain(const ktstr::v1::RunSpec& spec, std::vector<RunEvent>* events) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    ktstr::v1::SubmitRunRequest req;
    *req.mutable_spec() = spec;
    auto reader = daemon_->stub()->SubmitRun(&ctx, req);
    RunEvent ev;
    while (reader->Read(&ev)) events->push_back(ev);
    return reader->Finish();
  }

  std::string socket_dir_, tmp_;
  std::string binary_ = "\x7f" "ELF pretend test binary, uploaded in 7-byte chunks";
  std::unique_ptr<KtstrdProcess> daemon_;
};

TEST_F(KtstrdServiceTest, UploadIsVerifiedAndDeduplicated) {
  ktstr::v1::UploadArtifactResponse first;
  ASSERT_TRUE(Upload(binary_, binary_.size(), Sha256Hex(binary_), &first).ok());
  EXPECT_FALSE(first.already_present());
  EXPECT_EQ(first.artifact().size_bytes(), binary_.size());
  // A second upload is answered after the header.
  ktstr::v1::UploadArtifactResponse second;
  ASSERT_TRUE(Upload("", binary_.size(), Sha256Hex(binary_), &second).ok());
  EXPECT_TRUE(second.already_present());
  ktstr::v1::StatArtifactRequest st;
  st.set_sha256(Sha256Hex(binary_));
  ktstr::v1::StatArtifactResponse sr;
  ASSERT_TRUE(daemon_->stub()->StatArtifact(Ctx().get(), st, &sr).ok());
  EXPECT_TRUE(sr.present());
  EXPECT_EQ(sr.kind(), ktstr::v1::ARTIFACT_KIND_TEST_BINARY);
}

TEST_F(KtstrdServiceTest, BadInputGetsStatusCodesAndTheDaemonKeepsServing) {
  ktstr::v1::UploadArtifactResponse resp;
  EXPECT_EQ(Upload("x", 2 << 20, Sha256Hex("x"), &resp).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Upload("tampered", 8, Sha256Hex("original"), &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Upload("x", 1, "not-a-digest", &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ktstr::v1::ArtifactRef bin = UploadBinary();

  std::vector<RunEvent> events;
  ktstr::v1::RunSpec bad_topo;
  *bad_topo.add_jobs() = Job("t", bin);
  bad_topo.mutable_jobs(0)->mutable_shape()->mutable_topology()->set_llcs(0);
  EXPECT_EQ(SubmitAndDrain(bad_topo, &events).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ktstr::v1::RunSpec bad_kernel;
  *bad_kernel.add_jobs() = Job("t", bin);
  bad_kernel.mutable_jobs(0)->mutable_kernel()->set_version("9.99");
  EXPECT_EQ(SubmitAndDrain(bad_kernel, &events).error_code(), grpc::StatusCode::NOT_FOUND);
  ktstr::v1::RunSpec missing;
  *missing.add_jobs() = Job("t", bin);
  missing.mutable_jobs(0)->mutable_test_binary()->set_sha256(Sha256Hex("never uploaded"));
  EXPECT_EQ(SubmitAndDrain(missing, &events).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(events.empty());
  ktstr::v1::GetRunRequest gr;
  gr.set_run_id("20990101T000000Z-0001");
  ktstr::v1::GetRunResponse grr;
  EXPECT_EQ(daemon_->stub()->GetRun(Ctx().get(), gr, &grr).error_code(),
            grpc::StatusCode::NOT_FOUND);

  ktstr::v1::GetDaemonStatusResponse status;
  ASSERT_TRUE(daemon_->stub()->GetDaemonStatus(Ctx().get(), {}, &status).ok());
  EXPECT_EQ(status.pid(), static_cast<uint32_t>(daemon_->pid()));
}

TEST_F(KtstrdServiceTest, SubmitStreamsAndCommitsResultsToSqlite) {
  ktstr::v1::ArtifactRef bin = UploadBinary();
  ktstr::v1::RunSpec spec;
  *spec.add_jobs() = Job("two_groups", bin);
  *spec.add_jobs() = Job("fail_starve", bin);
  std::vector<RunEvent> events;
  ASSERT_TRUE(SubmitAndDrain(spec, &events).ok());
  ASSERT_GE(events.size(), 4u);
  EXPECT_TRUE(events.front().has_accepted());
  ASSERT_TRUE(events.back().has_run_finished());
  const std::string run_id = events.back().run_id();
  EXPECT_EQ(events.back().run_finished().run().jobs_passed(), 1u);
  EXPECT_EQ(events.back().run_finished().run().jobs_failed(), 1u);
  EXPECT_EQ(events.back().run_finished().run().owner().uid(), getuid());

  sqlite3* db;
  ASSERT_EQ(sqlite3_open_v2((tmp_ + "/state/results.db").c_str(), &db, SQLITE_OPEN_READONLY,
                            nullptr), SQLITE_OK);
  sqlite3_stmt* q;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT test_name, verdict_kind, reason FROM jobs WHERE"
                               " run_id = ? ORDER BY job_index", -1, &q, nullptr), SQLITE_OK);
  sqlite3_bind_text(q, 1, run_id.c_str(), -1, SQLITE_TRANSIENT);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(q, 1), ktstr::v1::VERDICT_KIND_PASS);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(q, 1), ktstr::v1::VERDICT_KIND_FAIL);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(q, 2)),
               "stuck 3500ms on cpu1 at +1200ms");
  sqlite3_finalize(q);
  sqlite3_close(db);

  // WatchRun re-attaches to a finished run and replays it.
  grpc::ClientContext ctx;
  ktstr::v1::WatchRunRequest w;
  w.set_run_id(run_id);
  auto reader = daemon_->stub()->WatchRun(&ctx, w);
  RunEvent ev;
  int finished = 0;
  while (reader->Read(&ev)) finished += ev.has_finished();
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(finished, 2);
}

TEST_F(KtstrdServiceTest, CancelStopsARunningJob) {
  ktstr::v1::ArtifactRef bin = UploadBinary();
  ktstr::v1::RunSpec spec;
  *spec.add_jobs() = Job("hang", bin);
  std::vector<RunEvent> events;
  std::thread submit([&] { EXPECT_TRUE(SubmitAndDrain(spec, &events).ok()); });
  std::string run_id;
  for (int i = 0; i < 200 && run_id.empty(); ++i) {
    ktstr::v1::ListRunsResponse lr;
    ASSERT_TRUE(daemon_->stub()->ListRuns(Ctx().get(), {}, &lr).ok());
    if (lr.runs_size() > 0) run_id = lr.runs(0).run_id();
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_FALSE(run_id.empty());
  ktstr::v1::CancelRunRequest c;
  c.set_run_id(run_id);
  ktstr::v1::CancelRunResponse cr;
  ASSERT_TRUE(daemon_->stub()->CancelRun(Ctx().get(), c, &cr).ok());
  submit.join();
  ASSERT_FALSE(events.empty());
  ASSERT_TRUE(events.back().has_run_finished());
  EXPECT_EQ(events.back().run_finished().run().state(), ktstr::v1::RUN_STATE_CANCELLED);
}

// Runs ktstr-client with its connection attributed to uid/gid 65534; returns its exit code
// and stderr.
int RunClientAsNobody(const std::string& fake_cred_file, const std::vector<std::string>& args,
                      std::string* err) {
  std::string err_file = std::string(getenv("TEST_TMPDIR")) + "/nobody.err";
  std::ofstream(fake_cred_file) << "65534 65534\n";
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  unlink(fake_cred_file.c_str());
  *err = *ReadFileToString(err_file);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(KtstrdServiceTest, UsersSeeAndCancelOnlyTheirOwnRuns) {
  ktstr::v1::ArtifactRef bin = UploadBinary();
  ktstr::v1::RunSpec spec;
  *spec.add_jobs() = Job("two_groups", bin);
  std::vector<RunEvent> events;
  ASSERT_TRUE(SubmitAndDrain(spec, &events).ok());
  const std::string run_id = events.back().run_id();
  const std::string fake = tmp_ + "/state.fake_cred";
  const std::string client = "client/ktstr-client";
  const std::string sock = socket_dir_ + "/ktstrd.sock";
  std::string err;
  EXPECT_EQ(RunClientAsNobody(fake, {client, "--socket", sock, "--no-autostart", "cancel", run_id},
                              &err), 3) << err;
  EXPECT_NE(err.find("belongs to"), std::string::npos) << err;
  EXPECT_EQ(RunClientAsNobody(fake, {client, "--socket", sock, "--no-autostart", "stats", "show",
                                     run_id}, &err), 3) << err;
  EXPECT_NE(err.find("belongs to"), std::string::npos) << err;
  EXPECT_EQ(RunClientAsNobody(fake, {client, "--socket", sock, "--no-autostart", "daemon", "stop"},
                              &err), 3) << err;
  EXPECT_NE(err.find("root or its user only"), std::string::npos) << err;
  // The owner (this process, a new connection without the fake file) still sees the run.
  ktstr::v1::ListRunsResponse mine;
  ASSERT_TRUE(daemon_->stub()->ListRuns(Ctx().get(), {}, &mine).ok());
  EXPECT_EQ(mine.runs_size(), 1);
  ktstr::v1::GetRunRequest gr;
  gr.set_run_id(run_id);
  ktstr::v1::GetRunResponse grr;
  EXPECT_TRUE(daemon_->stub()->GetRun(Ctx().get(), gr, &grr).ok());
}

TEST_F(KtstrdServiceTest, KillNineThenRestartKeepsResultsAndInterruptsRunningJobs) {
  ktstr::v1::ArtifactRef bin = UploadBinary();
  ktstr::v1::RunSpec done_spec;
  *done_spec.add_jobs() = Job("two_groups", bin);
  std::vector<RunEvent> events;
  ASSERT_TRUE(SubmitAndDrain(done_spec, &events).ok());
  const std::string done_run = events.back().run_id();

  ktstr::v1::RunSpec hang_spec;
  *hang_spec.add_jobs() = Job("hang", bin);
  grpc::ClientContext ctx;
  ktstr::v1::SubmitRunRequest req;
  *req.mutable_spec() = hang_spec;
  auto reader = daemon_->stub()->SubmitRun(&ctx, req);
  RunEvent ev;
  std::string hang_run;
  while (reader->Read(&ev)) {
    if (ev.has_started()) {
      hang_run = ev.run_id();
      break;
    }
  }
  ASSERT_FALSE(hang_run.empty());
  daemon_->Kill(SIGKILL);
  ctx.TryCancel();
  (void)reader->Finish();

  daemon_->Start();
  ktstr::v1::GetRunRequest gr;
  ktstr::v1::GetRunResponse grr;
  gr.set_run_id(done_run);
  ASSERT_TRUE(daemon_->stub()->GetRun(Ctx().get(), gr, &grr).ok());
  EXPECT_EQ(grr.run().jobs(0).verdict().kind(), ktstr::v1::VERDICT_KIND_PASS);
  gr.set_run_id(hang_run);
  ASSERT_TRUE(daemon_->stub()->GetRun(Ctx().get(), gr, &grr).ok());
  EXPECT_EQ(grr.run().jobs(0).state(), ktstr::v1::JOB_STATE_FINISHED);
  EXPECT_EQ(grr.run().jobs(0).verdict().kind(), ktstr::v1::VERDICT_KIND_INTERRUPTED);
  EXPECT_NE(grr.run().state(), ktstr::v1::RUN_STATE_ACTIVE);
}

}  // namespace
}  // namespace ktstr::daemon
