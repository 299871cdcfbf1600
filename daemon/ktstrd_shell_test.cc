// The Shell RPC on a real ktstrd process over its unix socket. ktstrd runs with
// --executor=fake: its shell "VMs" are daemon/testing/fake_shell_vm.h (a terminal that
// echoes typed lines; "exit N" ends it), because these cases check the stream protocol,
// validation, admission and the VM's lifetime, not QEMU; the real VM path is one case of
// ktstrd_vm_itest. The fake daemon's vCPU budget is 4 (testing/ktstrd_harness.cc).
#include <unistd.h>

#include <optional>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/artifact_store.h"
#include "daemon/fs_util.h"
#include "daemon/testing/ktstrd_harness.h"
#include "gtest/gtest.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace ktstr::daemon {
namespace {

using ktstr::v1::ShellInput;
using ktstr::v1::ShellOutput;
using Stream = grpc::ClientReaderWriter<ShellInput, ShellOutput>;

constexpr char kRelease[] = "6.1.0-test-amd64";

ShellInput Start(uint32_t nodes, uint32_t llcs, uint32_t cores, uint32_t threads) {
  ShellInput in;
  auto* t = in.mutable_start()->mutable_shape()->mutable_topology();
  t->set_numa_nodes(nodes);
  t->set_llcs(llcs);
  t->set_cores_per_llc(cores);
  t->set_threads_per_core(threads);
  return in;
}

ShellInput Stdin(const std::string& data) {
  ShellInput in;
  in.set_stdin(data);
  return in;
}

// What a stream brought back.
struct Transcript {
  std::vector<std::string> statuses;
  std::string terminal;
  std::optional<int> exit_code;
};

// Reads until `want` appears on the terminal (true) or the stream ends (false).
bool ReadUntil(Stream* s, Transcript* t, const std::string& want) {
  ShellOutput out;
  while (!absl::StrContains(t->terminal, want)) {
    if (!s->Read(&out)) return false;
    if (out.has_status()) t->statuses.push_back(out.status());
    if (out.has_stdout()) t->terminal += out.stdout();
    if (out.output_case() == ShellOutput::kExitCode) t->exit_code = out.exit_code();
  }
  return true;
}

class KtstrdShellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_dir_ = absl::StrCat("/tmp/ktstr_sh_", getpid());
    RemoveTree(socket_dir_);
    tmp_ = std::string(getenv("TEST_TMPDIR")) + "/shell";
    RemoveTree(tmp_);
    testing::WriteFakeSetupKernel(tmp_ + "/ktstr", kRelease);
    daemon_ = std::make_unique<testing::KtstrdProcess>(socket_dir_ + "/ktstrd.sock",
                                                       tmp_ + "/state", tmp_ + "/ktstr");
    daemon_->Start();
  }
  void TearDown() override {
    daemon_.reset();
    RemoveTree(socket_dir_);
  }

  // Sends `msgs` (then closes the writing side) and reads to the end.
  grpc::Status Exchange(const std::vector<ShellInput>& msgs, Transcript* t) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    std::unique_ptr<Stream> s = daemon_->stub()->Shell(&ctx);
    for (const ShellInput& m : msgs) s->Write(m);
    s->WritesDone();
    ReadUntil(s.get(), t, "\x01never");
    return s->Finish();
  }

  // vCPUs held in admission and shell VMs alive, as the daemon reports them.
  std::pair<uint64_t, uint32_t> InUse() {
    grpc::ClientContext c1, c2;
    ktstr::v1::GetPoolStatusResponse pool;
    ktstr::v1::GetDaemonStatusResponse status;
    EXPECT_TRUE(daemon_->stub()->GetPoolStatus(&c1, {}, &pool).ok());
    EXPECT_TRUE(daemon_->stub()->GetDaemonStatus(&c2, {}, &status).ok());
    return {pool.vcpus_in_use(), status.vms_running()};
  }

  // Waits (bounded) until nothing is held; returns the last observation.
  std::pair<uint64_t, uint32_t> WaitIdle() {
    std::pair<uint64_t, uint32_t> u;
    for (int i = 0; i < 200; ++i) {
      u = InUse();
      if (u.first == 0 && u.second == 0) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return u;
  }

  std::string socket_dir_, tmp_;
  std::unique_ptr<testing::KtstrdProcess> daemon_;
};

TEST_F(KtstrdShellTest, BadStartsGetClearStatusCodes) {
  Transcript t;
  grpc::Status s = Exchange({Stdin("ls\n")}, &t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "ShellStart")) << s.error_message();

  s = Exchange({}, &t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  ShellInput unknown_kernel = Start(1, 1, 2, 1);
  unknown_kernel.mutable_start()->mutable_kernel()->set_cache_key("no-such-kernel");
  s = Exchange({unknown_kernel}, &t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "no-such-kernel")) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), kRelease)) << s.error_message();

  s = Exchange({Start(2, 3, 1, 1)}, &t);  // an LLC may not straddle NUMA nodes
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "multiple")) << s.error_message();
  s = Exchange({Start(0, 0, 0, 0)}, &t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  ShellInput missing_file = Start(1, 1, 2, 1);
  auto* f = missing_file.mutable_start()->add_files();
  f->mutable_artifact()->set_sha256(std::string(64, 'a'));
  f->set_guest_path("/bin/tool");
  s = Exchange({missing_file}, &t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "/bin/tool")) << s.error_message();

  ShellInput relative = Start(1, 1, 2, 1);
  relative.mutable_start()->add_files()->set_guest_path("../etc/passwd");
  s = Exchange({relative}, &t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  ShellInput other_init = Start(1, 1, 2, 1);
  other_init.mutable_start()->add_kernel_args("init=/bin/sh");
  s = Exchange({other_init}, &t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "kernel_args: 'init=/bin/sh'"))
      << s.error_message();

  // None of it started a VM or kept budget.
  EXPECT_EQ(InUse(), (std::pair<uint64_t, uint32_t>{0, 0}));
  EXPECT_TRUE(t.statuses.empty());
}

TEST_F(KtstrdShellTest, StdinTypedAheadReachesTheShellAndItsExitCodeEndsTheStream) {
  ShellInput start = Start(1, 1, 2, 1);
  start.mutable_start()->set_rows(40);
  start.mutable_start()->set_cols(120);
  ShellInput resize;
  resize.mutable_resize()->set_rows(50);
  resize.mutable_resize()->set_cols(132);
  Transcript t;
  // Everything is sent before the "VM" exists: the session keeps it in order until then.
  grpc::Status s = Exchange({start, Stdin("echo hi\n"), resize, Stdin("exit 42\n")}, &t);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(t.exit_code.has_value());
  EXPECT_EQ(*t.exit_code, 42);
  EXPECT_EQ(t.terminal,
            "fake: run /bin/sh on 40x120\r\necho hi\r\nresized 50x132\r\nexit 42\r\n");
  ASSERT_EQ(t.statuses.size(), 2u);
  EXPECT_TRUE(absl::StartsWith(t.statuses[0], absl::StrCat("booting 1n1l2c1t on ", kRelease)))
      << t.statuses[0];
  EXPECT_TRUE(absl::StartsWith(t.statuses[1], "ready: fake-shell-")) << t.statuses[1];
  EXPECT_EQ(WaitIdle(), (std::pair<uint64_t, uint32_t>{0, 0}));
}

TEST_F(KtstrdShellTest, ClientGoingAwayDestroysTheVmAndReturnsTheBudget) {
  grpc::ClientContext ctx;
  std::unique_ptr<Stream> s = daemon_->stub()->Shell(&ctx);
  ASSERT_TRUE(s->Write(Start(1, 1, 2, 2)));  // 4 vCPUs: the whole budget
  Transcript t;
  ASSERT_TRUE(ReadUntil(s.get(), &t, "fake: run"));
  EXPECT_EQ(InUse(), (std::pair<uint64_t, uint32_t>{4, 1}));

  // While it holds the budget a second shell waits in admission.
  grpc::ClientContext ctx2;
  ctx2.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  std::unique_ptr<Stream> second = daemon_->stub()->Shell(&ctx2);
  ASSERT_TRUE(second->Write(Start(1, 1, 1, 1)));
  Transcript t2;
  std::thread reader([&] { ReadUntil(second.get(), &t2, "fake: run"); });
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(InUse().second, 1u) << "the second shell got a VM over the budget";

  ctx.TryCancel();
  reader.join();  // admitted once the first shell's budget came back
  EXPECT_TRUE(absl::StrContains(t2.terminal, "fake: run /bin/sh")) << t2.terminal;
  EXPECT_EQ(InUse().second, 1u);
  second->Write(Stdin("exit 0\n"));
  second->WritesDone();
  ReadUntil(second.get(), &t2, "\x01never");
  EXPECT_TRUE(second->Finish().ok());
  EXPECT_EQ(s->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(WaitIdle(), (std::pair<uint64_t, uint32_t>{0, 0}));
}

TEST_F(KtstrdShellTest, TimeoutDestroysTheVmWithDeadlineExceeded) {
  ShellInput start = Start(1, 1, 2, 1);
  start.mutable_start()->set_timeout_s(1);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  std::unique_ptr<Stream> s = daemon_->stub()->Shell(&ctx);
  ASSERT_TRUE(s->Write(start));  // and never types anything
  Transcript t;
  ReadUntil(s.get(), &t, "\x01never");
  grpc::Status st = s->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), "timeout_s = 1")) << st.error_message();
  EXPECT_FALSE(t.exit_code.has_value());
  EXPECT_EQ(WaitIdle(), (std::pair<uint64_t, uint32_t>{0, 0}));
}

// The real ktstr-client with piped stdin: files uploaded and placed, the piped lines typed,
// end of input typed as ^D, and the client exits with the shell's code.
TEST_F(KtstrdShellTest, ClientPipesStdinUploadsFilesAndExitsWithTheShellsCode) {
  const std::string tool = tmp_ + "/tool.sh";
  ASSERT_TRUE(WriteFileAtomically(tool, "#!/bin/sh\necho tool\n").ok());
  std::string out, err;
  int rc = testing::RunClientWithInput(daemon_->socket(), tmp_,
                                       {"shell", "--file", tool + ":/opt/tool", "--topology",
                                        "1,1,2,1", "--timeout", "60"},
                                       "uname -a\nexit 3\n", &out, &err);
  EXPECT_EQ(rc, 3) << out << err;
  EXPECT_EQ(out, "fake: put /opt/tool\r\nfake: run /bin/sh on 24x80\r\nuname -a\r\nexit 3\r\n");
  EXPECT_TRUE(absl::StrContains(err, "booting 1n1l2c1t")) << err;

  // Without exit, the end of input ends the shell (exit 0); a command runs instead of sh.
  rc = testing::RunClientWithInput(daemon_->socket(), tmp_, {"shell", "--", "top", "-b"},
                                   "q\n", &out, &err);
  EXPECT_EQ(rc, 0) << out << err;
  EXPECT_EQ(out, "fake: run top -b on 24x80\r\nq\r\n");

  // The client's own errors: usage 2, daemon errors 3 with the daemon's message.
  EXPECT_EQ(testing::RunClient(daemon_->socket(), tmp_, {"shell", "--bogus"}, &out), 2);
  EXPECT_EQ(testing::RunClient(daemon_->socket(), tmp_, {"shell", "--kernel", "nokernel"}, &out),
            3);
  EXPECT_TRUE(absl::StrContains(out, "kernel 'nokernel' is not cached")) << out;
  EXPECT_EQ(testing::RunClient(daemon_->socket(), tmp_, {"shell", "--help"}, &out), 0);
  EXPECT_TRUE(absl::StrContains(out, "--topology")) << out;
  EXPECT_EQ(WaitIdle(), (std::pair<uint64_t, uint32_t>{0, 0}));
}

}  // namespace
}  // namespace ktstr::daemon
