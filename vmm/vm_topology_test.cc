// Boots real QEMU (TCG on this machine) with the default Debian kernel and a tiny static
// /init (testing/test_init.c) and checks what the guest sees.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "vmm/qemu_vm.h"
#include "vmm/snapshot.h"
#include "vmm/stale_files.h"
#include "vmm/testing/line_channel.h"

namespace ktstr::vmm {
namespace {

std::string KernelPath() {
  if (const char* k = getenv("KTSTR_KERNEL")) return k;
  const char* cache = getenv("KTSTR_CACHE_DIR");
  if (cache != nullptr) return absl::StrCat(cache, "/debian/default/vmlinux");
  return "/root/.cache/ktstr/debian/default/vmlinux";
}

VmSpec SpecFor(const Topology& topology) {
  VmSpec spec;
  spec.kernel_path = KernelPath();
  spec.initramfs_path = "vmm/test_initramfs.cpio.gz";
  spec.topology = topology;
  spec.memory_mb = 512 * topology.numa_nodes;
  // The 2-core host is shared with other builds and VMs: be generous.
  spec.boot_timeout = absl::Seconds(240);
  spec.lifetime = absl::Minutes(10);
  return spec;
}

// Gone, or a zombie waiting for whoever inherited it.
bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string content((std::istreambuf_iterator<char>(stat)), {});
  size_t paren = content.rfind(')');
  return paren == std::string::npos || content.compare(paren, 3, ") Z") == 0;
}

bool PathExists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

// What test_init printed: "KTSTR_TOPO cpu=0 node=0 package=0 core_id=0 siblings=0 llc=0-3".
struct GuestTopology {
  int nproc = -1;
  std::vector<std::map<std::string, std::string>> cpus;
  std::map<int, std::string> node_cpus;
};

GuestTopology ParseGuestTopology(const std::string& console) {
  GuestTopology g;
  for (absl::string_view line : absl::StrSplit(console, '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    size_t at = line.find("KTSTR_TOPO ");
    if (at == absl::string_view::npos) continue;
    std::map<std::string, std::string> kv;
    for (absl::string_view field : absl::StrSplit(line.substr(at + 11), ' ')) {
      std::pair<std::string, std::string> p = absl::StrSplit(field, absl::MaxSplits('=', 1));
      kv[p.first] = p.second;
    }
    if (kv.count("nproc")) {
      (void)absl::SimpleAtoi(kv["nproc"], &g.nproc);
    } else if (kv.count("cpu")) {
      g.cpus.push_back(kv);
    } else if (kv.count("node") && kv.count("cpus")) {
      int node = -1;
      (void)absl::SimpleAtoi(kv["node"], &node);
      g.node_cpus[node] = kv["cpus"];
    }
  }
  return g;
}

absl::StatusOr<std::string> Ask(const std::string& socket_path, const std::string& request,
                                absl::Duration timeout) {
  return testing::AskLine(socket_path, request, timeout);
}

class VmTopologyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(VmTopologyTest, GuestSeesExactlyThePreset) {
  absl::StatusOr<Topology> topology = FindPreset(GetParam());
  ASSERT_TRUE(topology.ok()) << topology.status();
  pid_t pid;
  std::string dir_socket;
  std::vector<std::string> ram_files;
  {
    BootFailure failure;
    absl::StatusOr<std::unique_ptr<QemuVm>> vm = QemuVm::Boot(SpecFor(*topology), &failure);
    ASSERT_TRUE(vm.ok()) << vm.status();
    pid = (*vm)->pid();
    dir_socket = (*vm)->channel_socket_path();
    ram_files = (*vm)->ram_files();
    EXPECT_EQ((*vm)->state(), VmState::kReady);

    GuestTopology guest = ParseGuestTopology((*vm)->ConsoleText());
    const int cpus = topology->TotalCpus();
    EXPECT_EQ(guest.nproc, cpus);
    ASSERT_EQ(static_cast<int>(guest.cpus.size()), cpus) << (*vm)->ConsoleText();
    std::vector<ExpectedCpu> expected = ExpectedGuestCpus(*topology);
    std::map<std::string, std::string> core_of;  // package/siblings -> core_id
    for (int cpu = 0; cpu < cpus; ++cpu) {
      auto& got = guest.cpus[cpu];
      SCOPED_TRACE(absl::StrCat("cpu", cpu));
      EXPECT_EQ(got["cpu"], absl::StrCat(cpu));
      EXPECT_EQ(got["node"], absl::StrCat(expected[cpu].node));
      EXPECT_EQ(got["llc"], expected[cpu].llc_cpus);
      EXPECT_EQ(got["siblings"], expected[cpu].thread_siblings);
      // SMT siblings share a core_id; different cores of a package have different ones.
      const std::string key = absl::StrCat(got["package"], "/", got["siblings"]);
      if (core_of.count(key)) {
        EXPECT_EQ(core_of[key], got["core_id"]);
      }
      core_of[key] = got["core_id"];
    }
    std::map<std::string, std::string> seen;  // package/core_id -> siblings
    for (auto& [key, core] : core_of) {
      std::string package = key.substr(0, key.find('/'));
      std::string siblings = key.substr(key.find('/') + 1);
      auto [it, inserted] = seen.emplace(package + "/" + core, siblings);
      EXPECT_TRUE(inserted) << "two cores share package/core_id " << package << "/" << core;
    }
    std::vector<std::string> nodes = ExpectedNodeCpuLists(*topology);
    ASSERT_EQ(guest.node_cpus.size(), nodes.size());
    for (size_t n = 0; n < nodes.size(); ++n) EXPECT_EQ(guest.node_cpus[n], nodes[n]);

    absl::StatusOr<std::vector<int>> tids = (*vm)->qmp().VcpuThreadIds();
    ASSERT_TRUE(tids.ok()) << tids.status();
    ASSERT_EQ(static_cast<int>(tids->size()), cpus);
    for (int tid : *tids) {
      EXPECT_TRUE(PathExists(absl::StrCat("/proc/", pid, "/task/", tid))) << tid;
    }

    absl::StatusOr<std::string> pong = Ask((*vm)->channel_socket_path(), "PING", absl::Seconds(60));
    ASSERT_TRUE(pong.ok()) << pong.status();
    EXPECT_TRUE(absl::StartsWith(*pong, "PONG ")) << *pong;
  }
  EXPECT_TRUE(ProcessGone(pid));
  EXPECT_FALSE(PathExists(dir_socket));
  for (const std::string& f : ram_files) EXPECT_FALSE(PathExists(f)) << f;
}

// The four presets of the suite; KTSTR_VMM_EXTRA_PRESETS="odd-3llc,numa4-8llc" adds more for
// a manual run (each costs a cold boot, ~10-40 s under TCG depending on the CPU count).
std::vector<std::string> PresetsToBoot() {
  std::vector<std::string> names = {"tiny-1llc", "tiny-2llc", "smt-2llc", "numa2-4llc"};
  if (const char* extra = getenv("KTSTR_VMM_EXTRA_PRESETS")) {
    for (absl::string_view n : absl::StrSplit(extra, ',', absl::SkipEmpty())) {
      names.emplace_back(n);
    }
  }
  return names;
}

INSTANTIATE_TEST_SUITE_P(Presets, VmTopologyTest, ::testing::ValuesIn(PresetsToBoot()),
                         [](const auto& info) {
                           std::string name = info.param;  // gtest names: no '-'
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

TEST(VmCrashTest, PanicBeforeReadyIsACrashWithThePanicText) {
  VmSpec spec = SpecFor(*FindPreset("tiny-1llc"));
  spec.extra_kernel_args.push_back("ktstr_test.mode=panic");
  BootFailure failure;
  absl::StatusOr<std::unique_ptr<Vm>> vm = Vm::Boot(spec, &failure);  // the interface path
  ASSERT_FALSE(vm.ok());
  EXPECT_TRUE(absl::IsAborted(vm.status())) << vm.status();
  EXPECT_EQ(failure.kind, BootFailureKind::kCrashed);
  bool panic = false;
  for (const CrashEvent& e : failure.crashes) {
    if (e.kind == CrashKind::kKernelPanic) {
      panic = true;
      EXPECT_EQ(e.reason, "sysrq triggered crash");
    }
  }
  EXPECT_TRUE(panic) << failure.console;
  EXPECT_NE(failure.console.find("Kernel panic - not syncing: sysrq triggered crash"),
            std::string::npos);
}

TEST(VmCrashTest, HangIsKilledAtItsBootTimeout) {
  VmSpec spec = SpecFor(*FindPreset("tiny-1llc"));
  spec.extra_kernel_args.push_back("ktstr_test.mode=hang");
  spec.boot_timeout = absl::Seconds(20);
  BootFailure failure;
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<QemuVm>> vm = QemuVm::Boot(spec, &failure);
  ASSERT_FALSE(vm.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(vm.status())) << vm.status();
  EXPECT_EQ(failure.kind, BootFailureKind::kTimedOut);
  EXPECT_GE(absl::Now() - start, absl::Seconds(20));
  // The init got as far as printing the topology: the guest ran, it just never got ready.
  EXPECT_NE(failure.console.find("KTSTR_TOPO end"), std::string::npos) << failure.console;
}

// A hung boot ends at once when its canceller fires (daemon stop, a cancelled job), not at
// the boot timeout; QEMU is killed.
TEST(VmCrashTest, HungBootEndsPromptlyWhenCancelled) {
  VmSpec spec = SpecFor(*FindPreset("tiny-1llc"));
  spec.extra_kernel_args.push_back("ktstr_test.mode=hang");
  spec.boot_timeout = absl::Seconds(600);
  auto pool_canceller = std::make_shared<BootCanceller>();
  // The job's canceller follows its pool's: cancelling the pool ends the boot.
  spec.boot_canceller = std::make_shared<BootCanceller>(
      std::vector<std::shared_ptr<const BootCanceller>>{pool_canceller});
  std::thread canceller([&] {
    absl::SleepFor(absl::Seconds(2));
    pool_canceller->Cancel();
  });
  BootFailure failure;
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<QemuVm>> vm = QemuVm::Boot(spec, &failure);
  canceller.join();
  ASSERT_FALSE(vm.ok());
  EXPECT_TRUE(absl::IsCancelled(vm.status())) << vm.status();
  EXPECT_EQ(failure.kind, BootFailureKind::kCancelled);
  // Generous for a loaded host; the point is that it is nowhere near the 600 s timeout.
  EXPECT_LT(absl::Now() - start, absl::Seconds(60));

  // Already cancelled: no QEMU is started at all.
  failure = BootFailure{};
  EXPECT_TRUE(absl::IsCancelled(QemuVm::Boot(spec, &failure).status()));
  EXPECT_EQ(failure.kind, BootFailureKind::kCancelled);
}

TEST(VmLifecycleTest, LaunchFailsCleanlyWhenQemuDies) {
  VmSpec spec = SpecFor(*FindPreset("tiny-1llc"));
  spec.qemu_binary = "/bin/false";  // exits at once, never creates its QMP socket
  const std::string mine = absl::StrCat("/tmp/ktstr-vm-", getpid(), "_");
  auto count_mine = [&] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/tmp")) {
      if (absl::StartsWith(e.path().string(), mine)) ++n;
    }
    return n;
  };
  const int before = count_mine();
  absl::StatusOr<std::unique_ptr<QemuVm>> vm = QemuVm::Launch(spec, LaunchOptions{});
  EXPECT_TRUE(absl::IsUnavailable(vm.status())) << vm.status();
  EXPECT_EQ(count_mine(), before);
  spec.topology.llcs = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(QemuVm::Launch(spec, LaunchOptions{}).status()));
  spec = SpecFor(*FindPreset("tiny-1llc"));
  spec.kernel_path = "/nonexistent/vmlinux";
  EXPECT_TRUE(absl::IsNotFound(QemuVm::Launch(spec, LaunchOptions{}).status()));
}

TEST(VmLifecycleTest, HardLifetimeKillsTheVm) {
  VmSpec spec = SpecFor(*FindPreset("tiny-1llc"));
  spec.lifetime = absl::Seconds(3);
  absl::StatusOr<std::unique_ptr<QemuVm>> vm = QemuVm::Launch(spec, LaunchOptions{});
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_TRUE((*vm)->WaitExited(absl::Seconds(60)));
  EXPECT_EQ((*vm)->state(), VmState::kKilled);
  EXPECT_GE(absl::Now() - (*vm)->launched_at(), absl::Seconds(3));
  EXPECT_TRUE(ProcessGone((*vm)->pid()));
}

// Runs only as the child of OwnerDeathKillsQemu: launches a VM, reports its QEMU pid and RAM
// file on the fd named by KTSTR_OWNER_HELPER_FD, and waits to be SIGKILLed.
TEST(VmOwnerHelper, DISABLED_LaunchAndWaitToBeKilled) {
  const char* fd_text = getenv("KTSTR_OWNER_HELPER_FD");
  int fd = -1;
  if (fd_text == nullptr || !absl::SimpleAtoi(fd_text, &fd)) GTEST_SKIP() << "helper only";
  absl::StatusOr<std::unique_ptr<QemuVm>> vm =
      QemuVm::Launch(SpecFor(*FindPreset("tiny-1llc")), {});
  ASSERT_TRUE(vm.ok()) << vm.status();
  const std::string msg = absl::StrCat((*vm)->pid(), " ", (*vm)->ram_files()[0], "\n");
  ASSERT_EQ(write(fd, msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
  for (;;) pause();
}

TEST(VmLifecycleTest, OwnerDeathKillsQemuAndALaterOwnerRemovesItsFiles) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  const std::string fd_env = absl::StrCat("KTSTR_OWNER_HELPER_FD=", p[1]);
  pid_t helper = fork();
  if (helper == 0) {
    close(p[0]);
    putenv(const_cast<char*>(fd_env.c_str()));
    execl("/proc/self/exe", "vm_topology_test", "--gtest_also_run_disabled_tests",
          "--gtest_filter=VmOwnerHelper.*", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(p[1]);
  std::string line;
  char c;
  while (read(p[0], &c, 1) == 1 && c != '\n') line.push_back(c);
  close(p[0]);
  std::pair<std::string, std::string> fields = absl::StrSplit(line, ' ');
  pid_t qemu = 0;
  ASSERT_TRUE(absl::SimpleAtoi(fields.first, &qemu)) << "helper said: " << line;
  EXPECT_FALSE(ProcessGone(qemu));

  kill(helper, SIGKILL);  // like a crash of the daemon: no destructor runs
  waitpid(helper, nullptr, 0);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!ProcessGone(qemu) && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(ProcessGone(qemu)) << "QEMU " << qemu << " outlived its owner";

  EXPECT_TRUE(PathExists(fields.second));  // the dead owner could not clean up
  EXPECT_GE(RemoveStaleVmFiles("/tmp", "/dev/shm"), 1);
  EXPECT_FALSE(PathExists(fields.second));
}

// 64-bit FNV-1a over the file's words: enough to notice any changed page.
uint64_t HashFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint64_t> buf(1 << 17);
  uint64_t h = 1469598103934665603ULL;
  while (in) {
    in.read(reinterpret_cast<char*>(buf.data()), buf.size() * sizeof(uint64_t));
    const size_t words = in.gcount() / sizeof(uint64_t);
    for (size_t i = 0; i < words; ++i) h = (h ^ buf[i]) * 1099511628211ULL;
  }
  return h;
}

TEST(VmSnapshotTest, FourClonesOfOneSnapshotAnswerAndLeaveTheTemplateUnchanged) {
  // Two NUMA nodes, so the clone path covers one RAM file per node.
  VmSpec spec = SpecFor(Topology{2, 2, 1, 1});
  absl::StatusOr<std::unique_ptr<QemuVm>> template_vm = QemuVm::Boot(spec);
  ASSERT_TRUE(template_vm.ok()) << template_vm.status();
  const pid_t template_pid = (*template_vm)->pid();
  absl::StatusOr<std::unique_ptr<Snapshot>> snap = Snapshot::Take(std::move(*template_vm));
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_TRUE(ProcessGone(template_pid));
  ASSERT_EQ((*snap)->ram_files().size(), 2u);
  std::vector<uint64_t> before;
  for (const std::string& f : (*snap)->ram_files()) before.push_back(HashFile(f));

  std::vector<pid_t> pids;
  {
    std::vector<std::unique_ptr<Vm>> clones;
    for (int i = 0; i < 4; ++i) {
      absl::StatusOr<std::unique_ptr<Vm>> clone = (*snap)->StartClone();
      ASSERT_TRUE(clone.ok()) << clone.status();
      EXPECT_EQ((*clone)->state(), VmState::kReady);
      EXPECT_EQ((*clone)->snapshot_taken_at(), (*snap)->taken_at());
      pids.push_back((*clone)->pid());
      clones.push_back(std::move(*clone));
    }
    std::set<std::string> sockets;
    for (auto& clone : clones) {
      sockets.insert(clone->channel_socket_path());
      absl::StatusOr<std::string> pong =
          Ask(clone->channel_socket_path(), "PING", absl::Seconds(60));
      ASSERT_TRUE(pong.ok()) << pong.status() << clone->ConsoleText();
      EXPECT_TRUE(absl::StartsWith(*pong, "PONG ")) << *pong;
      EXPECT_FALSE(clone->HasFatalCrash()) << clone->ConsoleText();
    }
    EXPECT_EQ(sockets.size(), 4u);  // every clone has its own channel

    // A crash after ready: clone 0 panics on request; the VM exits and reports it with context.
    (void)testing::AskLine(clones[0]->channel_socket_path(), "PANIC", absl::Seconds(1));
    ASSERT_TRUE(clones[0]->WaitExited(absl::Seconds(60)));
    EXPECT_EQ(clones[0]->state(), VmState::kExited);
    std::vector<CrashReport> crashes = clones[0]->Crashes();
    ASSERT_FALSE(crashes.empty()) << clones[0]->ConsoleText();
    EXPECT_EQ(crashes[0].event.kind, CrashKind::kKernelPanic);
    EXPECT_NE(crashes[0].context.find("sysrq: Trigger a crash"), std::string::npos);
    EXPECT_NE(crashes[0].context.find("Call Trace"), std::string::npos);
    for (size_t i = 1; i < clones.size(); ++i) EXPECT_EQ(clones[i]->state(), VmState::kReady);
  }
  for (pid_t pid : pids) EXPECT_TRUE(ProcessGone(pid)) << pid;
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(HashFile((*snap)->ram_files()[i]), before[i]) << (*snap)->ram_files()[i];
  }
  std::vector<std::string> files = (*snap)->ram_files();
  files.push_back((*snap)->state_file());
  snap->reset();
  for (const std::string& f : files) EXPECT_FALSE(PathExists(f)) << f;
}

}  // namespace
}  // namespace ktstr::vmm
