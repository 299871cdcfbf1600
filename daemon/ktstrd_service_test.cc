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
#include "daemon/testing/ktstrd_harness.h"
#include "gtest/gtest.h"
#include "kernel_cache/testing/test_files.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace ktstr::daemon {
namespace {

using ktstr::v1::RunEvent;

using testing::KtstrdProcess;

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
    // A small kernel-shaped stand-in (the fake executor boots nothing) in tools/setup's
    // layout: ktstrd imports it into its cache at startup, as it does the real one.
    testing::WriteFakeSetupKernel(tmp_ + "/ktstr", kSetupRelease);
    daemon_ = std::make_unique<KtstrdProcess>(socket_dir_ + "/ktstrd.sock", tmp_ + "/state",
                                              tmp_ + "/ktstr");
    daemon_->Start();
  }
  void TearDown() override {
    daemon_.reset();
    RemoveTree(socket_dir_);
  }

  // Uploads `data` in chunks; returns the response.
  grpc::Status Upload(const std::string& data, uint64_t declared_size, const std::string& sha,
                      ktstr::v1::UploadArtifactResponse* resp,
                      ktstr::v1::ArtifactKind kind = ktstr::v1::ARTIFACT_KIND_TEST_BINARY) {
    auto ctx = Ctx();
    auto w = daemon_->stub()->UploadArtifact(ctx.get(), resp);
    ktstr::v1::UploadArtifactRequest req;
    req.mutable_header()->set_sha256(sha);
    req.mutable_header()->set_size_bytes(declared_size);
    req.mutable_header()->set_kind(kind);
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

  static constexpr char kSetupRelease[] = "6.1.0-test-amd64";
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
  ktstr::v1::RunSpec bad_args;  // kernel args that would replace the guest agent
  *bad_args.add_jobs() = Job("t", bin);
  bad_args.mutable_jobs(0)->mutable_scheduler()->add_kernel_args("init=/bin/sh");
  grpc::Status args_status = SubmitAndDrain(bad_args, &events);
  EXPECT_EQ(args_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(args_status.error_message().find("init=/bin/sh"), std::string::npos);
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

// A stub whose connection ktstrd attributes to uid/gid 65534 (an unprivileged stranger).
std::unique_ptr<ktstr::v1::Ktstrd::Stub> NobodyStub(const std::string& socket,
                                                    const std::string& fake_cred_file) {
  std::ofstream(fake_cred_file) << "65534 65534\n";
  grpc::ChannelArguments args;
  args.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection of its own
  auto channel = grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(),
                                           args);
  EXPECT_TRUE(channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(20))));
  unlink(fake_cred_file.c_str());
  return ktstr::v1::Ktstrd::NewStub(channel);
}

TEST_F(KtstrdServiceTest, StartupImportsTheSetupKernelAndJobsUseItByDefault) {
  ktstr::v1::ListKernelsResponse list;
  ASSERT_TRUE(daemon_->stub()->ListKernels(Ctx().get(), {}, &list).ok());
  ASSERT_EQ(list.kernels_size(), 1) << "see " << tmp_ << "/state.log";
  const ktstr::v1::KernelEntry& k = list.kernels(0);
  EXPECT_EQ(k.version(), kSetupRelease);
  EXPECT_EQ(k.cache_key().rfind(std::string(kSetupRelease) + "-deb-x86_64-kc", 0), 0u)
      << k.cache_key();
  EXPECT_EQ(k.source(), ktstr::v1::KERNEL_SOURCE_DEBIAN);
  EXPECT_TRUE(k.sched_ext());
  EXPECT_TRUE(k.btf());
  EXPECT_TRUE(k.has_vmlinux());
  EXPECT_TRUE(k.is_default());
  EXPECT_FALSE(k.corrupt());
  // It sits in <KTSTR_CACHE_DIR>/kernels under its real key.
  struct stat st;
  EXPECT_EQ(stat((tmp_ + "/ktstr/kernels/" + k.cache_key() + "/metadata.json").c_str(), &st), 0);

  ktstr::v1::RunSpec spec;
  *spec.add_jobs() = Job("two_groups", UploadBinary());
  std::vector<RunEvent> events;
  ASSERT_TRUE(SubmitAndDrain(spec, &events).ok());
  ktstr::v1::GetRunRequest gr;
  gr.set_run_id(events.back().run_id());
  ktstr::v1::GetRunResponse grr;
  ASSERT_TRUE(daemon_->stub()->GetRun(Ctx().get(), gr, &grr).ok());
  EXPECT_EQ(grr.run().jobs(0).kernel_key(), k.cache_key());  // the pool key's kernel part

  ktstr::v1::GetDaemonStatusResponse status;
  ASSERT_TRUE(daemon_->stub()->GetDaemonStatus(Ctx().get(), {}, &status).ok());
  EXPECT_EQ(status.default_kernel_key(), k.cache_key());
}

TEST_F(KtstrdServiceTest, ImportRemoveCleanKernelsWithTheirStatusCodes) {
  auto* stub = daemon_->stub();
  const std::string image =
      kcache::testing::MakeBzImage("6.2.0-uploaded", kcache::testing::MakeElf({{".BTF", "b"}}));
  ktstr::v1::UploadArtifactResponse up;
  ASSERT_TRUE(Upload(image, image.size(), Sha256Hex(image), &up,
                     ktstr::v1::ARTIFACT_KIND_KERNEL_IMAGE).ok());

  ktstr::v1::ImportKernelRequest imp;
  *imp.mutable_image() = up.artifact();
  imp.set_make_default(true);
  ktstr::v1::ImportKernelResponse ir;
  grpc::Status s = stub->ImportKernel(Ctx().get(), imp, &ir);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string key = ir.kernel().cache_key();
  EXPECT_EQ(ir.kernel().version(), "6.2.0-uploaded");
  EXPECT_TRUE(ir.kernel().is_default());
  ASSERT_TRUE(stub->ImportKernel(Ctx().get(), imp, &ir).ok());  // idempotent
  EXPECT_EQ(ir.kernel().cache_key(), key);
  ktstr::v1::ListKernelsResponse list;
  ASSERT_TRUE(stub->ListKernels(Ctx().get(), {}, &list).ok());
  ASSERT_EQ(list.kernels_size(), 2);
  for (const auto& k : list.kernels()) EXPECT_EQ(k.is_default(), k.cache_key() == key);

  // Bad import requests.
  ktstr::v1::ImportKernelRequest bad;
  EXPECT_EQ(stub->ImportKernel(Ctx().get(), bad, &ir).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // no source
  bad.mutable_image()->set_sha256(Sha256Hex("never uploaded"));
  EXPECT_EQ(stub->ImportKernel(Ctx().get(), bad, &ir).error_code(), grpc::StatusCode::NOT_FOUND);
  *bad.mutable_image() = UploadBinary();  // uploaded, but not a kernel
  EXPECT_EQ(stub->ImportKernel(Ctx().get(), bad, &ir).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  bad.Clear();
  bad.set_host_path("relative/path");
  EXPECT_EQ(stub->ImportKernel(Ctx().get(), bad, &ir).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // A host path is for the daemon's own user (this test) or root only.
  bad.set_host_path(tmp_ + "/ktstr/debian/default");
  EXPECT_TRUE(stub->ImportKernel(Ctx().get(), bad, &ir).ok());  // already cached
  auto nobody = NobodyStub(socket_dir_ + "/ktstrd.sock", tmp_ + "/state.fake_cred");
  EXPECT_EQ(nobody->ImportKernel(Ctx().get(), bad, &ir).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ktstr::v1::RemoveKernelRequest rm;
  rm.set_cache_key(key);
  ktstr::v1::RemoveKernelResponse rr;
  EXPECT_EQ(nobody->RemoveKernel(Ctx().get(), rm, &rr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // A job holds its kernel: removing it fails until the job is over.
  ktstr::v1::RunSpec spec;
  *spec.add_jobs() = Job("hang", UploadBinary());
  spec.mutable_jobs(0)->mutable_kernel()->set_version("6.2");
  grpc::ClientContext run_ctx;
  ktstr::v1::SubmitRunRequest sr;
  *sr.mutable_spec() = spec;
  auto reader = stub->SubmitRun(&run_ctx, sr);
  RunEvent ev;
  std::string run_id;
  while (run_id.empty() && reader->Read(&ev)) {
    if (ev.has_started()) run_id = ev.run_id();
  }
  ASSERT_FALSE(run_id.empty());
  EXPECT_EQ(stub->RemoveKernel(Ctx().get(), rm, &rr).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  ktstr::v1::CleanKernelsRequest clean;  // keep 0: all but the default (and what is in use)
  ktstr::v1::CleanKernelsResponse cr;
  ktstr::v1::CancelRunRequest cancel;
  cancel.set_run_id(run_id);
  ktstr::v1::CancelRunResponse cancel_resp;
  ASSERT_TRUE(stub->CancelRun(Ctx().get(), cancel, &cancel_resp).ok());
  while (reader->Read(&ev)) {
  }
  EXPECT_TRUE(reader->Finish().ok());

  // Clean keeps the default (the uploaded kernel) and removes the setup kernel.
  ASSERT_TRUE(stub->CleanKernels(Ctx().get(), clean, &cr).ok());
  ASSERT_EQ(cr.removed_keys_size(), 1);
  EXPECT_NE(cr.removed_keys(0), key);
  ASSERT_TRUE(stub->ListKernels(Ctx().get(), {}, &list).ok());
  ASSERT_EQ(list.kernels_size(), 1);
  EXPECT_EQ(list.kernels(0).cache_key(), key);

  ASSERT_TRUE(stub->RemoveKernel(Ctx().get(), rm, &rr).ok());
  EXPECT_EQ(stub->RemoveKernel(Ctx().get(), rm, &rr).error_code(), grpc::StatusCode::NOT_FOUND);
  rm.set_cache_key("../etc");
  EXPECT_EQ(stub->RemoveKernel(Ctx().get(), rm, &rr).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Nothing cached now: a job's kernel is NOT_FOUND, with what to do.
  std::vector<RunEvent> events;
  ktstr::v1::RunSpec any;
  *any.add_jobs() = Job("two_groups", UploadBinary());
  grpc::Status none = SubmitAndDrain(any, &events);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(none.error_message().find("kernel import"), std::string::npos) << none.error_message();
}

// What `ktstr-client kernel build` sends: a kernel built on the client keeps the client's
// cache key, source and fragment hash; `replace` swaps in a rebuild of the same key.
TEST_F(KtstrdServiceTest, ClientBuiltKernelKeepsItsKeyAndReplaceSwapsItsFiles) {
  auto* stub = daemon_->stub();
  auto upload = [&](const std::string& data) {
    ktstr::v1::UploadArtifactResponse up;
    EXPECT_TRUE(Upload(data, data.size(), Sha256Hex(data), &up,
                       ktstr::v1::ARTIFACT_KIND_KERNEL_IMAGE).ok());
    return up.artifact();
  };
  const std::string key = "local-abc1234-x86_64-kc0badf00d";
  ktstr::v1::ImportKernelRequest imp;
  *imp.mutable_image() = upload(kcache::testing::MakeBzImage(
      "6.3.0-built", kcache::testing::MakeElf({{".BTF", "first"}})));
  imp.set_cache_key(key);
  imp.set_source(ktstr::v1::KERNEL_SOURCE_LOCAL);
  imp.set_kconfig_fragment_hash("0badf00d");
  ktstr::v1::ImportKernelResponse ir;
  grpc::Status s = stub->ImportKernel(Ctx().get(), imp, &ir);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ir.kernel().cache_key(), key);
  EXPECT_EQ(ir.kernel().source(), ktstr::v1::KERNEL_SOURCE_LOCAL);
  EXPECT_EQ(ir.kernel().kconfig_fragment_hash(), "0badf00d");
  EXPECT_EQ(ir.kernel().version(), "6.3.0-built");
  const std::string image = tmp_ + "/ktstr/kernels/" + key + "/bzImage";
  const std::string first = ReadFileToString(image).value_or("");
  ASSERT_FALSE(first.empty());

  // The same key again without replace keeps the stored files; with replace they change.
  *imp.mutable_image() = upload(kcache::testing::MakeBzImage(
      "6.3.0-built", kcache::testing::MakeElf({{".BTF", "second build"}})));
  ASSERT_TRUE(stub->ImportKernel(Ctx().get(), imp, &ir).ok());
  EXPECT_EQ(ReadFileToString(image).value_or(""), first);
  imp.set_replace(true);
  s = stub->ImportKernel(Ctx().get(), imp, &ir);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ir.kernel().cache_key(), key);
  const std::string second = ReadFileToString(image).value_or("");
  EXPECT_FALSE(second.empty());
  EXPECT_NE(second, first);

  imp.clear_cache_key();  // replace names an entry
  EXPECT_EQ(stub->ImportKernel(Ctx().get(), imp, &ir).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(KtstrdServiceTest, CleanCorruptOnlyRemovesOnlyCorruptEntries) {
  // An entry whose metadata.json is malformed: listed as corrupt, never used.
  const std::string broken = tmp_ + "/ktstr/kernels/6.0.0-image-x86_64-kc00000000";
  kcache::testing::WriteFile(broken + "/metadata.json", "{ not json");
  ktstr::v1::ListKernelsResponse list;
  ASSERT_TRUE(daemon_->stub()->ListKernels(Ctx().get(), {}, &list).ok());
  ASSERT_EQ(list.kernels_size(), 2);
  EXPECT_FALSE(list.kernels(0).corrupt());
  EXPECT_TRUE(list.kernels(1).corrupt());  // corrupt last
  EXPECT_FALSE(list.kernels(1).corrupt_reason().empty());
  ktstr::v1::CleanKernelsRequest clean;
  clean.set_corrupt_only(true);
  ktstr::v1::CleanKernelsResponse cr;
  ASSERT_TRUE(daemon_->stub()->CleanKernels(Ctx().get(), clean, &cr).ok());
  ASSERT_EQ(cr.removed_keys_size(), 1);
  EXPECT_EQ(cr.removed_keys(0), "6.0.0-image-x86_64-kc00000000");
  ASSERT_TRUE(daemon_->stub()->ListKernels(Ctx().get(), {}, &list).ok());
  EXPECT_EQ(list.kernels_size(), 1);
}

}  // namespace
}  // namespace ktstr::daemon
