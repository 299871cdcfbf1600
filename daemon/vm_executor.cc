#include "daemon/vm_executor.h"

#include <unistd.h>

#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "daemon/fs_util.h"
#include "daemon/leased_shell_vm.h"
#include "daemon/shape.h"
#include "daemon/vm_crash.h"
#include "guest_agent/initramfs.h"
#include "spdlog/spdlog.h"
#include "vmm/accel.h"
#include "vmm/crash_detector.h"

namespace ktstr::daemon {
namespace {

// Where the test binary goes in the guest.
constexpr char kGuestBinDir[] = "/opt/ktstr/bin/";
// Console lines kept as the excerpt when nothing more specific exists.
constexpr int kConsoleTailLines = 40;

std::string LastLines(const std::string& text, int n) {
  size_t start = text.size();
  for (int i = 0; i <= n && start > 0; ++i) {
    size_t nl = text.rfind('\n', start - 1);
    if (nl == std::string::npos) return text;
    start = nl;
  }
  return start < text.size() ? text.substr(start + 1) : std::string();
}

// Splits streamed output into lines for JobOutput events.
class LineSplitter {
 public:
  explicit LineSplitter(std::function<void(const std::string&)> fn) : fn_(std::move(fn)) {}
  ~LineSplitter() {
    if (!partial_.empty()) fn_(partial_);
  }
  void Feed(absl::string_view data) {
    for (char c : data) {
      if (c == '\n') {
        fn_(partial_);
        partial_.clear();
      } else if (partial_.size() < 4096) {
        partial_.push_back(c);
      }
    }
  }

 private:
  std::function<void(const std::string&)> fn_;
  std::string partial_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<VmExecutor>> VmExecutor::Create(VmExecutorOptions options) {
  if (access(options.agent_path.c_str(), R_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("guest agent not found at ", options.agent_path,
                                            " (bazel build //guest_agent:ktstr-agent, or "
                                            "ktstrd --agent=PATH)"));
  }
  agent::BaseArchiveSpec base;
  base.agent_path = options.agent_path;
  base.busybox_path = options.busybox_path;
  absl::StatusOr<std::string> archive = agent::CachedBaseArchive(base);
  if (!archive.ok()) return archive.status();
  options.pool.initramfs_path = options.state_dir + "/initramfs.cpio.gz";
  if (absl::Status s = agent::WriteInitramfs(*archive, {}, options.pool.initramfs_path); !s.ok()) {
    return s;
  }
  if (absl::Status s = MakeDirs(options.pool.work_dir, 0700); !s.ok()) return s;
  spdlog::info("VM executor: accelerator {} ({})",
               std::string(vmm::AccelName(vmm::DetectAccel().accel)),
               vmm::DetectAccel().reason);
  return std::unique_ptr<VmExecutor>(new VmExecutor(std::move(options)));
}

std::string VmExecutor::accelerator() {
  return std::string(vmm::AccelName(vmm::DetectAccel().accel));
}

namespace {
PoolVmKey KeyFor(const std::string& kernel_key, const std::string& image,
                 const ktstr::v1::VmShape& shape,
                 const google::protobuf::RepeatedPtrField<std::string>& kernel_args) {
  PoolVmKey k;
  k.kernel_args.assign(kernel_args.begin(), kernel_args.end());
  k.kernel_key = kernel_key;
  k.kernel_path = image;
  k.topology.numa_nodes = shape.topology().numa_nodes();
  k.topology.llcs = shape.topology().llcs();
  k.topology.cores_per_llc = shape.topology().cores_per_llc();
  k.topology.threads_per_core = shape.topology().threads_per_core();
  k.memory_mb = static_cast<int>(EffectiveMemoryMb(shape));
  return k;
}
}  // namespace

void VmExecutor::NoteDemand(const std::string& kernel_key, const ktstr::v1::JobSpec& job,
                            const std::string& kernel_image_path) {
  {
    absl::MutexLock lock(&mu_);
    kernel_paths_[kernel_key] = kernel_image_path;
  }
  pool_.NoteDemand(
      KeyFor(kernel_key, kernel_image_path, job.shape(), job.scheduler().kernel_args()));
}

absl::StatusOr<ktstr::v1::PoolStatus> VmExecutor::SetPoolTarget(const ktstr::v1::PoolKey& key,
                                                                uint32_t target) {
  if (absl::Status s = ValidateShape(key.shape()); !s.ok()) return s;
  std::string image;
  {
    absl::MutexLock lock(&mu_);
    auto it = kernel_paths_.find(key.kernel_key());
    if (it == kernel_paths_.end()) {
      return absl::NotFoundError(absl::StrCat("kernel '", key.kernel_key(),
                                              "' has not been used by a job yet"));
    }
    image = it->second;
  }
  if (absl::Status s = ValidateKernelArgs(key.kernel_args()); !s.ok()) return s;
  return pool_.SetTarget(KeyFor(key.kernel_key(), image, key.shape(), key.kernel_args()), target);
}

absl::StatusOr<std::unique_ptr<ShellVm>> VmExecutor::StartShellVm(const ShellVmRequest& req,
                                                                  AbortSignal& abort) {
  const PoolVmKey key = KeyFor(req.kernel_key, req.kernel_image_path, req.shape, req.kernel_args);
  auto boot_cancel = std::make_shared<vmm::BootCanceller>();
  abort.OnAbort([boot_cancel] { boot_cancel->Cancel(); });
  absl::StatusOr<std::unique_ptr<LeasedVm>> leased =
      pool_.Lease(key, LeaseMode::kReadyElseCold, boot_cancel);
  if (!leased.ok()) return leased.status();
  const bool detached = (*leased)->detached;
  return MakeLeasedShellVm(*std::move(leased),
                           [this, key, detached] { pool_.Released(key, detached); });
}

ExecutionOutcome VmExecutor::Execute(const JobRequest& req, const JobProgress& progress,
                                     AbortSignal& abort) {
  ExecutionOutcome out;
  const absl::Time deadline = absl::Now() + absl::Seconds(req.timeout_s);
  const PoolVmKey key = KeyFor(req.kernel_key, req.kernel_image_path, req.spec.shape(),
                               req.spec.scheduler().kernel_args());
  LeaseMode mode = LeaseMode::kAny;
  if (auto it = req.spec.labels().find("ktstr.vm"); it != req.spec.labels().end()) {
    mode = it->second == "cold" ? LeaseMode::kForceCold
           : it->second == "clone" ? LeaseMode::kForceFreshClone : LeaseMode::kAny;
  }
  // A cancel or timeout during a cold boot ends the boot, not only the job after it.
  auto boot_cancel = std::make_shared<vmm::BootCanceller>();
  abort.OnAbort([boot_cancel] { boot_cancel->Cancel(); });
  absl::StatusOr<std::unique_ptr<LeasedVm>> leased = pool_.Lease(key, mode, boot_cancel);
  if (!leased.ok()) {
    out.infra_error = absl::StrCat("could not get a VM: ", leased.status().message());
    return out;
  }
  std::unique_ptr<LeasedVm> vm = std::move(*leased);
  absl::Cleanup released = [&] { vm.reset(); pool_.Released(key); };
  progress.vm_assigned(vm->id, vm->warm, vm->ready_s);
  vmm::Vm* raw_vm = vm->vm.get();
  abort.OnAbort([raw_vm] { raw_vm->Kill(); });  // timeout/cancel: kill QEMU, unblocking RunTest

  agent::AgentClient& agent = *vm->agent;
  std::string binary_name = "test";
  if (auto it = req.spec.labels().find("binary"); it != req.spec.labels().end() &&
                                                  !it->second.empty() &&
                                                  it->second.find('/') == std::string::npos) {
    binary_name = it->second;
  }
  const std::string guest_binary = kGuestBinDir + binary_name;
  absl::Status put = agent.PutFile(req.test_binary_path, guest_binary, 0755, deadline).status();
  std::set<std::string> lib_dirs;
  for (const GuestFileSource& f : req.files) {
    if (!put.ok()) break;
    put = agent.PutFile(f.host_path, f.guest_path, f.mode, deadline).status();
    lib_dirs.insert(f.guest_path.substr(0, f.guest_path.rfind('/')));
  }
  // The scheduler under test: its loader goes to /opt/ktstr/sched/scheduler, its libraries
  // to their paths; the agent starts and watches it around the test.
  const std::string guest_sched = "/opt/ktstr/sched/scheduler";
  if (put.ok() && !req.scheduler_binary_path.empty()) {
    put = agent.PutFile(req.scheduler_binary_path, guest_sched, 0755, deadline).status();
    for (const GuestFileSource& f : req.scheduler_files) {
      if (!put.ok()) break;
      put = agent.PutFile(f.host_path, f.guest_path, f.mode, deadline).status();
      lib_dirs.insert(f.guest_path.substr(0, f.guest_path.rfind('/')));
    }
  }
  // libbpf resolves a scheduler's __kconfig externs from /boot/config-$(uname -r); ship the
  // cache entry's config (130 KB) when it has one. A scheduler without such externs
  // (scx_fifo) does not need it, so a missing config or a failed put only warns.
  if (put.ok() && !req.scheduler_binary_path.empty()) {
    if (req.kernel_config_path.empty() || req.kernel_release.empty()) {
      spdlog::warn("job {}/{}: kernel {} has no cached config; /boot/config-* not shipped",
                   req.run_id, req.index, req.kernel_key);
    } else if (absl::Status c = agent
                                    .PutFile(req.kernel_config_path,
                                             "/boot/config-" + req.kernel_release, 0644, deadline)
                                    .status();
               !c.ok()) {
      spdlog::warn("job {}/{}: could not put /boot/config-{}: {}", req.run_id, req.index,
                   req.kernel_release, std::string(c.message()));
    }
  }
  std::optional<agent::v1::TestResult> result;
  if (!put.ok()) {
    out.infra_error = absl::StrCat("putting files in the guest failed: ", put.message());
  } else {
    agent::v1::RunTest run;
    run.set_binary_path(guest_binary);
    run.set_test_name(req.spec.test_name());
    for (const auto& a : req.spec.test_args()) run.add_args(a);
    run.set_duration_s(req.spec.duration_s());
    run.set_timeout_ms(static_cast<uint32_t>(
        std::max<int64_t>(1000, absl::ToInt64Milliseconds(deadline - absl::Now()))));
    if (!lib_dirs.empty()) (*run.mutable_env())["LD_LIBRARY_PATH"] = absl::StrJoin(lib_dirs, ":");
    if (!req.scheduler_binary_path.empty()) {
      const ktstr::v1::SchedulerSpec& ss = req.spec.scheduler();
      agent::v1::SchedulerLaunch* l = run.mutable_scheduler();
      l->set_name(ss.name());
      l->set_binary_path(guest_sched);
      for (const auto& a : ss.args()) l->add_args(a);
      for (const auto& sc : ss.sysctls()) {
        agent::v1::Sysctl* c = l->add_sysctls();
        c->set_key(sc.key());
        c->set_value(sc.value());
      }
      // 30 s under TCG leaves the BPF verifier time (scheduler.proto's default).
      l->set_attach_timeout_ms(ss.attach_timeout_ms() ? ss.attach_timeout_ms() : 30000);
      l->set_expected_ops_name(ss.expected_ops_name());
    }
    progress.started();
    LineSplitter out_lines([&](const std::string& l) {
      progress.output(ktstr::v1::JobOutput::STREAM_STDOUT, l);
    });
    LineSplitter err_lines([&](const std::string& l) {
      progress.output(ktstr::v1::JobOutput::STREAM_STDERR, l);
    });
    LineSplitter sched_lines([&](const std::string& l) {
      progress.output(ktstr::v1::JobOutput::STREAM_SCHEDULER, l);
    });
    absl::StatusOr<agent::v1::TestResult> r = agent.RunTest(
        run,
        [&](agent::v1::Output::Stream s, absl::string_view data) {
          (s == agent::v1::Output::STREAM_STDERR     ? err_lines
           : s == agent::v1::Output::STREAM_SCHEDULER ? sched_lines
                                                       : out_lines)
              .Feed(data);
        },
        deadline + absl::Seconds(10));
    if (r.ok()) {
      result = std::move(*r);
    } else if (!abort.aborted()) {
      // The agent went away: most often the kernel died. Let the report finish printing.
      absl::SleepFor(config::kCrashSettle);
      out.infra_error = absl::StrCat("lost the guest agent: ", r.status().message());
    }
  }
  out.agent_result = std::move(result);
  out.crash = WorstCrash(*raw_vm);
  std::string console = raw_vm->ConsoleText();
  out.console_tail = LastLines(console, kConsoleTailLines);
  if (MakeDirs(req.log_dir, 0755).ok() &&
      WriteFileAtomically(req.log_dir + "/console.log", console).ok()) {
    out.console_log_path = req.log_dir + "/console.log";
  }
  return out;
}

}  // namespace ktstr::daemon
