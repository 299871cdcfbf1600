// The real agent as /init of a real VM (QEMU, TCG here, the default Debian kernel), driven by
// AgentClient over the virtio-serial channel. One VM is booted for the whole suite; the
// last case powers it off.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "guest_agent/agent_client.h"
#include "guest_agent/initramfs.h"
#include "guest_agent/put_closure.h"
#include "gtest/gtest.h"
#include "vmm/topology.h"
#include "vmm/qemu_vm.h"
#include "vmm/vm.h"

namespace ktstr::agent {
namespace {

absl::Time In(absl::Duration d) { return absl::Now() + d; }

std::string KernelDir() {
  if (const char* c = std::getenv("KTSTR_CACHE_DIR")) return absl::StrCat(c, "/debian/default");
  return "/root/.cache/ktstr/debian/default";
}

// Puts a dynamically linked host binary with its library closure and prints the rate.
absl::Status PutWithClosure(AgentClient& client, const std::string& host_path,
                            const std::string& guest_path) {
  absl::Time start = absl::Now();
  auto stats = PutBinaryWithLibraries(client, host_path, guest_path, In(absl::Seconds(240)));
  if (!stats.ok()) return stats.status();
  double s = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("put %s + %zu libraries: %.1f MB in %.2f s (%.1f MB/s)\n", host_path.c_str(),
              stats->libraries, stats->bytes / 1e6, s, stats->bytes / 1e6 / s);
  return absl::OkStatus();
}

class AgentVmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string tmp = std::getenv("TEST_TMPDIR");
    BaseArchiveSpec base;
    base.agent_path = "guest_agent/ktstr-agent";
    base.cache_dir = tmp + "/initramfs-cache";
    auto base_path = CachedBaseArchive(base);
    ASSERT_TRUE(base_path.ok()) << base_path.status();
    initrd_ = new std::string(tmp + "/initrd.cpio.gz");
    ASSERT_TRUE(WriteInitramfs(*base_path, {}, *initrd_).ok());

    vmm::VmSpec spec;
    spec.kernel_path = KernelDir() + "/vmlinux";
    spec.initramfs_path = *initrd_;
    auto topo = vmm::ParseTopology("1n2l2c1t");
    ASSERT_TRUE(topo.ok()) << topo.status();
    spec.topology = *topo;
    spec.memory_mb = 1024;
    spec.boot_timeout = absl::Seconds(240);  // TCG on a shared 2-core host
    spec.lifetime = absl::Minutes(15);
    // Connect while the guest is still booting: the socket exists before the guest opens its
    // port, so the client's pings queue in QEMU until the agent starts reading (vmm/README.md).
    auto vm = vmm::QemuVm::Launch(spec, vmm::LaunchOptions{});
    ASSERT_TRUE(vm.ok()) << vm.status();
    vm_ = vm->release();
    absl::Time t0 = absl::Now();
    auto client = AgentClient::Connect(vm_->channel_socket_path(), In(absl::Seconds(240)));
    ASSERT_TRUE(client.ok()) << client.status() << "\nconsole:\n" << vm_->ConsoleText();
    client_ = client->release();
    std::printf("agent answered %.2f s after QEMU started\n", absl::ToDoubleSeconds(absl::Now() - t0));
    vmm::BootFailure failure;
    ASSERT_TRUE(vm_->WaitReady(In(absl::Seconds(60)), &failure).ok()) << failure.console;
  }

  static void TearDownTestSuite() {
    delete client_;
    client_ = nullptr;
    delete vm_;  // kills QEMU if the shutdown case did not power it off
    vm_ = nullptr;
    delete initrd_;
  }

  void SetUp() override {
    ASSERT_NE(client_, nullptr) << "the VM did not boot";
  }

  static v1::Exec Sh(const std::string& script, uint32_t timeout_ms = 0) {
    v1::Exec e;
    e.add_argv("/bin/sh");
    e.add_argv("-c");
    e.add_argv(script);
    e.set_timeout_ms(timeout_ms);
    return e;
  }

  static std::string* initrd_;
  static vmm::QemuVm* vm_;
  static AgentClient* client_;
};

std::string* AgentVmTest::initrd_ = nullptr;
vmm::QemuVm* AgentVmTest::vm_ = nullptr;
AgentClient* AgentVmTest::client_ = nullptr;

TEST_F(AgentVmTest, HelloReportsTheTopologyTheVmWasGiven) {
  auto r = client_->Hello(v1::Hello(), In(absl::Seconds(60)));
  ASSERT_TRUE(r.ok()) << r.status();
  auto release = ReadWholeFile(KernelDir() + "/release");
  ASSERT_TRUE(release.ok());
  EXPECT_EQ(r->kernel_release(), absl::StripAsciiWhitespace(*release));
  const v1::GuestTopology& t = r->topology();
  EXPECT_EQ(t.cpus(), 4u);
  EXPECT_EQ(t.numa_nodes(), 1u);
  EXPECT_EQ(t.llcs(), 2u);
  EXPECT_EQ(t.cores_per_llc(), 2u);
  EXPECT_EQ(t.threads_per_core(), 1u);
  ASSERT_EQ(t.cpu_size(), 4);
  EXPECT_EQ(t.cpu(0).llc_shared(), "0-1");
  EXPECT_EQ(t.cpu(3).llc_shared(), "2-3");
  EXPECT_GT(t.memory_kb(), 512u * 1024);
  // The Debian 7.3 kernel has sched_ext, nothing attached at boot.
  EXPECT_EQ(r->sched_ext(), v1::SCHED_EXT_STATE_DISABLED);
}

TEST_F(AgentVmTest, HelloSetsTheGuestClockAndForwardsKernelLog) {
  absl::Mutex mu;
  std::vector<std::string> lines;
  client_->set_kernel_log_callback([&](const v1::KernelLog& log) {
    absl::MutexLock lock(&mu);
    lines.push_back(log.line());
  });
  v1::Hello hello;
  const int64_t fake_now = absl::ToUnixNanos(absl::FromUnixSeconds(2000000000));  // 2033
  hello.set_host_time_unix_ns(fake_now);
  hello.set_forward_kernel_log(true);
  auto r = client_->Hello(hello, In(absl::Seconds(60)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(r->guest_time_unix_ns(), fake_now);
  EXPECT_LT(r->guest_time_unix_ns(), fake_now + absl::ToInt64Nanoseconds(absl::Seconds(60)));
  auto e = client_->Exec(Sh("echo ktstr-kmsg-probe > /dev/kmsg"), nullptr, In(absl::Seconds(60)));
  ASSERT_TRUE(e.ok()) << e.status();
  auto seen = [&] {
    absl::MutexLock lock(&mu);
    for (const auto& l : lines)
      if (absl::StrContains(l, "ktstr-kmsg-probe")) return true;
    return false;
  };
  for (int i = 0; i < 100 && !seen(); ++i) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_TRUE(seen());
  client_->set_kernel_log_callback(nullptr);
}

TEST_F(AgentVmTest, DynamicallyLinkedHostBinaryRunsWithStreamedOutput) {
  ASSERT_TRUE(PutWithClosure(*client_, "/usr/bin/stress-ng", "/opt/bin/stress-ng").ok());
  std::string out;
  int chunks = 0;
  auto r = client_->Exec(
      [] {
        v1::Exec e;
        for (const char* a : {"/opt/bin/stress-ng", "--cpu", "2", "--timeout", "3s"}) e.add_argv(a);
        return e;
      }(),
      [&](v1::Output::Stream, absl::string_view d) {
        out.append(d.data(), d.size());
        ++chunks;
      },
      In(absl::Seconds(180)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << out;
  EXPECT_NE(out.find("successful run completed"), std::string::npos) << out;
  EXPECT_GE(chunks, 2) << "output came in one piece, not streamed";
}

TEST_F(AgentVmTest, RunTestRunsAShippedTestBinary) {
  ASSERT_TRUE(PutWithClosure(*client_, "guest_agent/fake_ktstr_test", "/opt/bin/fake_ktstr_test").ok());
  v1::RunTest run;
  run.set_binary_path("/opt/bin/fake_ktstr_test");
  run.set_test_name("pass");
  run.set_timeout_ms(60000);
  auto r = client_->RunTest(run, nullptr, In(absl::Seconds(120)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->error().empty()) << r->error();
  EXPECT_EQ(r->report().outcome(), ktstr::v1::TEST_OUTCOME_PASS);
  EXPECT_EQ(r->process().exit_code(), 0);
}

TEST_F(AgentVmTest, RunTestUnderASchedExtSchedulerReportsTheScheduler) {
  ASSERT_TRUE(PutWithClosure(*client_, "guest_agent/fake_ktstr_test", "/opt/bin/fake_ktstr_test").ok());
  auto put = client_->PutFile("scheduler_tests/schedulers/scx_fifo", "/opt/bin/scx_fifo", 0755,
                              In(absl::Seconds(120)));
  ASSERT_TRUE(put.ok()) << put.status();
  v1::RunTest run;
  run.set_binary_path("/opt/bin/fake_ktstr_test");
  run.set_test_name("pass");
  run.set_timeout_ms(60000);
  v1::SchedulerLaunch* s = run.mutable_scheduler();
  s->set_name("scx_fifo");
  s->set_binary_path("/opt/bin/scx_fifo");
  s->set_attach_timeout_ms(180000);  // verifier time under TCG on a shared host
  s->set_expected_ops_name("scx_fifo");
  auto r = client_->RunTest(run, nullptr, In(absl::Minutes(6)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->error().empty()) << r->error() << "\n" << r->scheduler().DebugString();
  EXPECT_EQ(r->scheduler().state(), v1::SCHEDULER_STATE_RAN) << r->scheduler().DebugString();
  EXPECT_EQ(r->scheduler().ops_name(), "scx_fifo");
  EXPECT_EQ(r->report().outcome(), ktstr::v1::TEST_OUTCOME_PASS);
  // The test process was told the loader's pid.
  EXPECT_TRUE(absl::StartsWith(r->report().stats_text(), "SCHED_PID="));
  EXPECT_GT(r->report().stats_text().size(), strlen("SCHED_PID="));
  // Stopped afterwards: the kernel is back on EEVDF.
  auto hello = client_->Hello(v1::Hello(), In(absl::Seconds(60)));
  ASSERT_TRUE(hello.ok()) << hello.status();
  EXPECT_EQ(hello->sched_ext(), v1::SCHED_EXT_STATE_DISABLED);
}

TEST_F(AgentVmTest, ExitCodesAndSignalsAreReported) {
  auto code = client_->Exec(Sh("exit 42"), nullptr, In(absl::Seconds(60)));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(code->exit_code(), 42);
  EXPECT_EQ(code->signal(), 0);
  auto sig = client_->Exec(Sh("kill -SEGV $$"), nullptr, In(absl::Seconds(60)));
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(sig->exit_code(), -1);
  EXPECT_EQ(sig->signal(), SIGSEGV);
}

TEST_F(AgentVmTest, ExecStartsInTheRequestedCgroup) {
  v1::Exec e = Sh("cat /proc/self/cgroup");
  e.set_cgroup("ktstr/agent_test");
  std::string out;
  auto r = client_->Exec(e, [&](v1::Output::Stream, absl::string_view d) { out.append(d.data(), d.size()); },
                         In(absl::Seconds(60)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(out, "0::/ktstr/agent_test\n");
}

TEST_F(AgentVmTest, PtyExecGetsATerminal) {
  v1::Exec e = Sh("tty; stty size");
  e.set_pty(true);
  e.set_pty_rows(30);
  e.set_pty_cols(90);
  std::string out;
  auto r = client_->Exec(e, [&](v1::Output::Stream, absl::string_view d) { out.append(d.data(), d.size()); },
                         In(absl::Seconds(60)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0) << out;
  EXPECT_NE(out.find("/dev/pts/"), std::string::npos) << out;
  EXPECT_NE(out.find("30 90"), std::string::npos) << out;
}

TEST_F(AgentVmTest, ExecThatOutlivesItsTimeoutIsKilled) {
  absl::Time start = absl::Now();
  auto r = client_->Exec(Sh("sleep 600", 2000), nullptr, In(absl::Seconds(120)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out());
  EXPECT_EQ(r->signal(), SIGKILL);
  EXPECT_GE(r->duration_ms(), 2000u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(60));
  // The guest is still serving and nothing is left running.
  std::string ps;
  auto p = client_->Exec(Sh("ps -o comm | grep -c '^sleep$' || true"),
                         [&](v1::Output::Stream, absl::string_view d) { ps.append(d.data(), d.size()); },
                         In(absl::Seconds(60)));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(ps, "0\n");
}

TEST_F(AgentVmTest, MalformedFrameIsRejectedAndTheNextRequestWorks) {
  (void)client_->TakeUnsolicitedErrors();
  std::string bad = EncodeFrame("some payload");
  bad[kFrameHeaderBytes + 2] ^= 0x40;  // checksum no longer matches
  ASSERT_TRUE(client_->SendRaw("garbage before" + bad, In(absl::Seconds(10))).ok());
  ASSERT_TRUE(client_->SendRaw(EncodeFrame("\x08\x01\xff\xff"), In(absl::Seconds(10))).ok());
  auto code = client_->Exec(Sh("exit 5"), nullptr, In(absl::Seconds(60)));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(code->exit_code(), 5);
  auto errors = client_->TakeUnsolicitedErrors();
  bool bad_frame = false;
  for (const auto& e : errors) bad_frame |= e.code() == v1::ERROR_CODE_BAD_FRAME;
  EXPECT_TRUE(bad_frame) << errors.size() << " errors";
}

// What a warm pool does between jobs: the host disconnects and a new host connects later.
// Output produced while nobody is connected must not wedge the agent.
TEST_F(AgentVmTest, ANewHostConnectionIsServedAfterADisconnect) {
  v1::Hello hello;
  hello.set_forward_kernel_log(true);
  ASSERT_TRUE(client_->Hello(hello, In(absl::Seconds(60))).ok());
  // Kernel log lines (forwarded to the host) keep coming for ~3 s from a process in its own
  // session, so they are produced while the host is away.
  auto bg = client_->Exec(
      Sh("setsid sh -c 'for i in $(seq 1 30); do echo tick$i > /dev/kmsg; sleep 0.1; done' "
         "</dev/null >/dev/null 2>&1 &"),
      nullptr, In(absl::Seconds(60)));
  ASSERT_TRUE(bg.ok()) << bg.status();
  delete client_;
  client_ = nullptr;
  absl::SleepFor(absl::Seconds(2));
  auto again = AgentClient::Connect(vm_->channel_socket_path(), In(absl::Seconds(60)));
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << vm_->ConsoleText();
  client_ = again->release();
  auto r = client_->Exec(Sh("echo back"), nullptr, In(absl::Seconds(60)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 0);
}

// Last: powers the VM off.
TEST_F(AgentVmTest, ShutdownPowersTheVmOff) {
  ASSERT_TRUE(client_->Shutdown(false, In(absl::Seconds(60))).ok());
  EXPECT_TRUE(vm_->WaitExited(absl::Seconds(120))) << vm_->ConsoleText();
  EXPECT_EQ(vm_->state(), vmm::VmState::kExited);
}

}  // namespace
}  // namespace ktstr::agent
