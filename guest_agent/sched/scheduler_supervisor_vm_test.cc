// The supervisor and scx_fifo in a real VM: QEMU (TCG here) boots the default Debian kernel with
// the agent as /init; scx_fifo, sched_probe and the kernel config (/boot/config-RELEASE, which
// libbpf reads for Kconfig externs) are extra initramfs files. Each case runs sched_probe through
// the agent's Exec and checks the SchedulerReport it prints. One VM serves every case.
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/text_format.h"
#include "guest_agent/agent_client.h"
#include "guest_agent/initramfs.h"
#include "gtest/gtest.h"
#include "proto/ktstr/agent/v1/agent.pb.h"
#include "vmm/topology.h"
#include "vmm/vm.h"

namespace ktstr::agent {
namespace {

absl::Time In(absl::Duration d) { return absl::Now() + d; }

std::string KernelDir() {
  if (const char* c = std::getenv("KTSTR_CACHE_DIR")) return absl::StrCat(c, "/debian/default");
  return "/root/.cache/ktstr/debian/default";
}

class SupervisorVmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string tmp = std::getenv("TEST_TMPDIR");
    auto release = ReadWholeFile(KernelDir() + "/release");
    ASSERT_TRUE(release.ok()) << release.status();
    BaseArchiveSpec base;
    base.agent_path = "guest_agent/ktstr-agent";
    base.cache_dir = tmp + "/initramfs-cache";
    auto base_path = CachedBaseArchive(base);
    ASSERT_TRUE(base_path.ok()) << base_path.status();
    initrd_ = new std::string(tmp + "/initrd.cpio.gz");
    std::vector<InitramfsFile> extras = {
        {"/scx_fifo", "scheduler_tests/schedulers/scx_fifo", "", 0755},
        {"/sched_probe", "guest_agent/sched/sched_probe", "", 0755},
        // libbpf resolves Kconfig externs from /boot/config-$(uname -r).
        {absl::StrCat("/boot/config-", absl::StripAsciiWhitespace(*release)),
         KernelDir() + "/config", "", 0644},
    };
    ASSERT_TRUE(WriteInitramfs(*base_path, extras, *initrd_).ok());

    vmm::VmSpec spec;
    spec.kernel_path = KernelDir() + "/vmlinux";
    spec.initramfs_path = *initrd_;
    auto topo = vmm::ParseTopology("1n2l2c1t");
    ASSERT_TRUE(topo.ok()) << topo.status();
    spec.topology = *topo;
    spec.memory_mb = 1024;
    spec.boot_timeout = absl::Seconds(240);  // TCG on a shared 2-core host
    spec.lifetime = absl::Minutes(20);
    vmm::BootFailure failure;
    auto vm = vmm::Vm::Boot(spec, &failure);
    ASSERT_TRUE(vm.ok()) << vm.status() << "\nconsole:\n" << failure.console;
    vm_ = vm->release();
    auto client = AgentClient::Connect(vm_->channel_socket_path(), In(absl::Seconds(60)));
    ASSERT_TRUE(client.ok()) << client.status() << "\nconsole:\n" << vm_->ConsoleText();
    client_ = client->release();
    kmsg_mu_ = new absl::Mutex;
    kmsg_ = new std::vector<std::string>;
    client_->set_kernel_log_callback([](const v1::KernelLog& log) {
      absl::MutexLock lock(kmsg_mu_);
      kmsg_->push_back(log.line());
    });
    v1::Hello hello;
    hello.set_forward_kernel_log(true);
    ASSERT_TRUE(client_->Hello(hello, In(absl::Seconds(60))).ok());
  }

  static void TearDownTestSuite() {
    if (kmsg_ != nullptr) {
      // The kernel's own sched_ext lines, for the record (and for sched_ext_log_test's data).
      absl::MutexLock lock(kmsg_mu_);
      for (const std::string& l : *kmsg_) {
        if (absl::StrContains(l, "sched_ext") || absl::StrContains(l, "rcu: INFO")) {
          printf("kmsg: %s\n", l.c_str());
        }
      }
    }
    delete client_;
    client_ = nullptr;
    delete vm_;
    vm_ = nullptr;
    delete initrd_;
  }

  void SetUp() override { ASSERT_NE(client_, nullptr) << "the VM did not boot"; }

  // Runs `script` with sh in the guest and returns the SchedulerReport sched_probe printed.
  static v1::SchedulerReport Probe(const std::string& script, absl::Duration timeout) {
    v1::Exec e;
    e.add_argv("/bin/sh");
    e.add_argv("-c");
    e.add_argv(script);
    std::string out;
    auto exit = client_->Exec(
        e, [&](v1::Output::Stream, absl::string_view data) { absl::StrAppend(&out, data); },
        In(timeout));
    EXPECT_TRUE(exit.ok()) << exit.status() << "\n" << out;
    size_t b = out.find("KTSTR_SCHED_REPORT_BEGIN\n");
    size_t end = out.find("KTSTR_SCHED_REPORT_END");
    v1::SchedulerReport r;
    if (b == std::string::npos || end == std::string::npos) {
      ADD_FAILURE() << "no report in the probe's output:\n" << out;
      return r;
    }
    b += strlen("KTSTR_SCHED_REPORT_BEGIN\n");
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(out.substr(b, end - b), &r));
    printf("---- %s\n%s\n", script.c_str(), out.c_str());
    return r;
  }

  static std::string* initrd_;
  static vmm::Vm* vm_;
  static AgentClient* client_;
  static absl::Mutex* kmsg_mu_;
  static std::vector<std::string>* kmsg_;
};

std::string* SupervisorVmTest::initrd_ = nullptr;
vmm::Vm* SupervisorVmTest::vm_ = nullptr;
AgentClient* SupervisorVmTest::client_ = nullptr;
absl::Mutex* SupervisorVmTest::kmsg_mu_ = nullptr;
std::vector<std::string>* SupervisorVmTest::kmsg_ = nullptr;

// Verifier time under TCG is seconds; a generous attach timeout keeps this about behaviour.
constexpr char kProbe[] = "/sched_probe --attach-timeout-ms=120000 --log=/tmp/sched.log";

TEST_F(SupervisorVmTest, ScxFifoAttachesRunsAndStopsCleanly) {
  v1::SchedulerReport r = Probe(
      absl::StrCat(kProbe, " --expect-ops=scx_fifo --watch-ms=3000 -- /scx_fifo; "
                           "echo state=$(cat /sys/kernel/sched_ext/state)"),
      absl::Minutes(4));
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_RAN) << r.DebugString();
  EXPECT_EQ(r.ops_name(), "scx_fifo");
  EXPECT_GT(r.attach_s(), 0.0);
  EXPECT_EQ(r.exit_kind(), ktstr::v1::SCHED_EXIT_KIND_UNREGISTERED) << r.DebugString();
  EXPECT_EQ(r.exit_kind_text(), "unregistered from user space");
  EXPECT_EQ(r.exit_code(), 0);
  EXPECT_TRUE(absl::StrContains(r.log(), "scx_fifo: attached")) << r.log();
  EXPECT_TRUE(r.exit_detail().empty()) << r.exit_detail();  // confirmed disabled after Stop
}

TEST_F(SupervisorVmTest, StallAfterIsEjectedWithAStallKind) {
  // Spinners outnumber the 4 vCPUs so tasks go back through ops.enqueue, and a sleeper loop
  // forks short tasks: both are parked once --stall-after is reached.
  v1::SchedulerReport r = Probe(
      absl::StrCat("for i in 1 2 3 4 5 6; do (while :; do :; done) & done; "
                   "(while :; do sleep 0.05; done) & ",
                   kProbe, " --watch-ms=240000 -- /scx_fifo --stall-after=200 --timeout-ms=3000; "
                   "kill $(jobs -p) 2>/dev/null; true"),
      absl::Minutes(8));
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_EJECTED) << r.DebugString();
  EXPECT_EQ(r.exit_kind(), ktstr::v1::SCHED_EXIT_KIND_STALL) << r.DebugString();
  EXPECT_TRUE(r.exit_kind_text() == "runnable task stall" || r.exit_kind_text() == "runtime error")
      << r.exit_kind_text();
  EXPECT_TRUE(absl::StrContains(r.exit_detail(), "failed to run for") ||
              absl::StrContains(r.exit_detail(), "RCU CPU stall on CPUs"))
      << r.exit_detail();
  EXPECT_EQ(r.exit_code(), 0);  // the loader exits 0 after a kernel-side exit
  EXPECT_TRUE(absl::StrContains(r.log(), "EXIT: ")) << r.log();
}

TEST_F(SupervisorVmTest, ErrorAfterIsEjectedWithScxBpfError) {
  v1::SchedulerReport r = Probe(
      absl::StrCat("(while :; do sleep 0.05; done) & ", kProbe,
                   " --watch-ms=120000 -- /scx_fifo --error-after=100; kill $! ; true"),
      absl::Minutes(5));
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_EJECTED) << r.DebugString();
  EXPECT_EQ(r.exit_kind(), ktstr::v1::SCHED_EXIT_KIND_SCX_BPF_ERROR) << r.DebugString();
  EXPECT_EQ(r.exit_kind_text(), "scx_bpf_error");
  EXPECT_TRUE(absl::StrContains(r.exit_detail(), "--error-after 100 inserts reached"))
      << r.exit_detail();
}

TEST_F(SupervisorVmTest, FailVerifyIsNotAttachedWithTheVerifiersMessage) {
  v1::SchedulerReport r =
      Probe(absl::StrCat(kProbe, " -- /scx_fifo --fail-verify"), absl::Minutes(4));
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_NOT_ATTACHED) << r.DebugString();
  EXPECT_TRUE(absl::StrContains(r.exit_detail(), "verifier rejected the scheduler"))
      << r.exit_detail();
  EXPECT_TRUE(absl::StrContains(r.exit_detail(), "invalid mem access")) << r.exit_detail();
  EXPECT_EQ(r.exit_code(), 1);
}

TEST_F(SupervisorVmTest, ExitingLoaderDied) {
  v1::SchedulerReport r = Probe(absl::StrCat(kProbe, " -- /scx_fifo --exit-now=3"),
                                absl::Minutes(2));
  EXPECT_EQ(r.state(), v1::SCHEDULER_STATE_DIED) << r.DebugString();
  EXPECT_EQ(r.exit_code(), 3);
}

}  // namespace
}  // namespace ktstr::agent
