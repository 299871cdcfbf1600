#include "guest_agent/sched/scheduler_supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace ktstr::agent {
namespace {

using ktstr::agent::v1::SchedulerReport;

// A null kernel log for guests without a readable /dev/kmsg.
class NoKernelLog : public KernelLogSource {
 public:
  std::vector<std::string> ReadNew() override { return {}; }
};

absl::Status ValidateSpec(const SchedulerLaunchSpec& spec) {
  if (spec.binary_path.empty()) return absl::InvalidArgumentError("scheduler binary_path is empty");
  if (spec.log_path.empty()) return absl::InvalidArgumentError("scheduler log_path is empty");
  if (spec.attach_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("scheduler attach_timeout must be positive, got ",
                     absl::FormatDuration(spec.attach_timeout)));
  }
  for (const auto& [key, value] : spec.sysctls) {
    if (key.empty() || absl::StrContains(key, "..") || absl::StrContains(key, "/") ||
        key.front() == '.' || key.back() == '.') {
      return absl::InvalidArgumentError(absl::StrCat("bad sysctl key '", key, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SchedulerSupervisor>> SchedulerSupervisor::Start(
    const SchedulerLaunchSpec& spec) {
  return Start(spec, SupervisorEnv{});
}

absl::StatusOr<std::unique_ptr<SchedulerSupervisor>> SchedulerSupervisor::Start(
    const SchedulerLaunchSpec& spec, SupervisorEnv env) {
  if (absl::Status st = ValidateSpec(spec); !st.ok()) return st;
  std::unique_ptr<SchedulerSupervisor> sup(new SchedulerSupervisor(spec, std::move(env)));
  absl::MutexLock lock(&sup->mu_);

  if (!sup->sysfs_.Present()) {
    sup->report_.set_state(v1::SCHEDULER_STATE_SCHED_EXT_ABSENT);
    sup->report_.set_exit_detail(
        absl::StrCat(sup->sysfs_.root(), " does not exist: the kernel has no sched_ext"));
    sup->phase_ = Phase::kFinished;
    return sup;
  }
  if (absl::Status st = sup->ApplySysctls(); !st.ok()) return st;
  if (sup->env_.kernel_log == nullptr) {
    absl::StatusOr<std::unique_ptr<DevKmsgSource>> kmsg = DevKmsgSource::Open();
    if (kmsg.ok()) {
      sup->env_.kernel_log = *std::move(kmsg);
    } else {
      spdlog::warn("scheduler {}: no kernel log ({}); exit kinds come from the loader's output",
                   spec.name, kmsg.status().ToString());
      sup->env_.kernel_log = std::make_unique<NoKernelLog>();
    }
  }

  sup->started_ = absl::Now();
  absl::StatusOr<std::unique_ptr<LoaderProcess>> loader =
      LoaderProcess::Spawn(spec.binary_path, spec.args, spec.log_path);
  if (!loader.ok()) return loader.status();
  sup->loader_ = *std::move(loader);
  spdlog::info("scheduler {}: started {} (pid {}), waiting up to {} for the attach", spec.name,
               spec.binary_path, sup->loader_->pid(), absl::FormatDuration(spec.attach_timeout));
  sup->WaitForAttach();
  return sup;
}

SchedulerSupervisor::SchedulerSupervisor(SchedulerLaunchSpec spec, SupervisorEnv env)
    : spec_(std::move(spec)),
      sysfs_(env.sysfs_root),
      env_(std::move(env)),
      tracker_(spec_.expected_ops_name) {
  report_.set_state(v1::SCHEDULER_STATE_UNSPECIFIED);
  report_.set_exit_kind(ktstr::v1::SCHED_EXIT_KIND_NONE);
  report_.set_exit_code(-1);
}

SchedulerSupervisor::~SchedulerSupervisor() {
  absl::MutexLock lock(&mu_);
  StopLoader();
}

pid_t SchedulerSupervisor::pid() const {
  absl::MutexLock lock(&mu_);
  return loader_ ? loader_->pid() : -1;
}

absl::Status SchedulerSupervisor::ApplySysctls() {
  for (const auto& [key, value] : spec_.sysctls) {
    std::string path =
        absl::StrCat(env_.proc_sys_root, "/", absl::StrReplaceAll(key, {{".", "/"}}));
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("sysctl ", key, ": open ", path));
    }
    ssize_t n = write(fd, value.data(), value.size());
    int err = errno;
    close(fd);
    if (n != static_cast<ssize_t>(value.size())) {
      return absl::ErrnoToStatus(n < 0 ? err : EIO,
                                 absl::StrCat("sysctl ", key, "=", value, ": write ", path));
    }
    spdlog::info("scheduler {}: sysctl {} = {}", spec_.name, key, value);
  }
  return absl::OkStatus();
}

void SchedulerSupervisor::DrainKernelLog() {
  for (const std::string& line : env_.kernel_log->ReadNew()) tracker_.Feed(line);
}

void SchedulerSupervisor::WaitForAttach() {
  const std::optional<uint64_t> seq_before = sysfs_.EnableSeq();
  const absl::Time deadline = started_ + spec_.attach_timeout;
  for (;;) {
    DrainKernelLog();
    // A scheduler counts as ours only if it was enabled after we started (enable_seq moved),
    // so a stale one left by an earlier run is not mistaken for it.
    std::optional<uint64_t> seq = sysfs_.EnableSeq();
    bool fresh = !seq_before || !seq || *seq > *seq_before;
    if ((fresh && sysfs_.EnabledAs(spec_.expected_ops_name)) || tracker_.enabled_seen()) {
      report_.set_attach_s(absl::ToDoubleSeconds(absl::Now() - started_));
      report_.set_ops_name(sysfs_.RootOps().value_or(tracker_.ops_name()));
      report_.set_state(v1::SCHEDULER_STATE_RAN);
      phase_ = Phase::kAttached;
      spdlog::info("scheduler {}: attached as '{}' after {:.3f} s", spec_.name,
                   report_.ops_name(), report_.attach_s());
      // Enabled and already gone again (e.g. an error on the first enqueue)?
      if (tracker_.disabled_seen() || !sysfs_.EnabledAs(report_.ops_name()) ||
          !loader_->Running()) {
        FinishUnexpected();
      }
      return;
    }
    if (!loader_->Running()) {
      DrainKernelLog();
      std::string log = ReadLogTail();
      if (std::optional<std::string> verr = ExtractVerifierError(log)) {
        FinishNotAttached(absl::StrCat("verifier rejected the scheduler: ", *verr));
      } else {
        report_.set_state(v1::SCHEDULER_STATE_DIED);
        report_.set_exit_detail(
            loader_->term_signal() != 0
                ? absl::StrCat("loader killed by signal ", loader_->term_signal(),
                               " before attaching")
                : absl::StrCat("loader exited with status ", loader_->exit_code(),
                               " before attaching"));
        FillProcessAndLog();
        phase_ = Phase::kFinished;
      }
      return;
    }
    if (absl::Now() >= deadline) {
      std::string detail = absl::StrFormat(
          "not enabled within %s: sched_ext state '%s', root/ops '%s'%s",
          absl::FormatDuration(spec_.attach_timeout), sysfs_.State(),
          sysfs_.RootOps().value_or(""),
          spec_.expected_ops_name.empty() ? ""
                                          : absl::StrCat(", want '", spec_.expected_ops_name, "'"));
      StopLoader();
      if (std::optional<std::string> verr = ExtractVerifierError(ReadLogTail())) {
        absl::StrAppend(&detail, "; verifier: ", *verr);
      }
      FinishNotAttached(std::move(detail));
      return;
    }
    absl::SleepFor(config::kAttachPoll);
  }
}

void SchedulerSupervisor::FinishNotAttached(std::string detail) {
  StopLoader();
  report_.set_state(v1::SCHEDULER_STATE_NOT_ATTACHED);
  report_.set_exit_detail(std::move(detail));
  FillProcessAndLog();
  phase_ = Phase::kFinished;
  spdlog::warn("scheduler {}: not attached: {}", spec_.name, report_.exit_detail());
}

bool SchedulerSupervisor::Alive() {
  absl::MutexLock lock(&mu_);
  if (phase_ != Phase::kAttached) return false;
  DrainKernelLog();
  if (!tracker_.disabled_seen() && loader_->Running() && sysfs_.EnabledAs(report_.ops_name())) {
    return true;
  }
  FinishUnexpected();
  return false;
}

void SchedulerSupervisor::FinishUnexpected() {
  // Give the kernel time to print its message line and the loader time to print the exit
  // record and debug dump and exit, so the report is complete.
  const absl::Time deadline = absl::Now() + env_.eject_drain;
  for (;;) {
    DrainKernelLog();
    bool loader_done = !loader_->Running();
    bool kernel_done = tracker_.disabled_seen() &&
                       (!IsEjection(tracker_.kind()) || !tracker_.message().empty());
    if ((loader_done && kernel_done) || absl::Now() >= deadline) break;
    absl::SleepFor(config::kAttachPoll);
  }
  FillExitFromRecords();
  const ktstr::v1::SchedExitKind kind = report_.exit_kind();
  if (IsEjection(kind)) {
    report_.set_state(v1::SCHEDULER_STATE_EJECTED);
  } else if (!loader_->Running()) {
    report_.set_state(v1::SCHEDULER_STATE_DIED);
    if (report_.exit_detail().empty()) {
      report_.set_exit_detail(loader_->term_signal() != 0
                                  ? absl::StrCat("loader killed by signal ", loader_->term_signal())
                                  : absl::StrCat("loader exited with status ",
                                                 loader_->exit_code(), " during the test"));
    }
  } else {
    // Disabled, loader still running, and no record of why: the kernel said nothing we know.
    report_.set_state(v1::SCHEDULER_STATE_EJECTED);
    report_.set_exit_kind(ktstr::v1::SCHED_EXIT_KIND_OTHER);
    report_.set_exit_detail(absl::StrCat("sched_ext state '", sysfs_.State(),
                                         "' with no exit record in the kernel log"));
  }
  StopLoader();
  FillProcessAndLog();
  phase_ = Phase::kFinished;
  spdlog::warn("scheduler {}: {} ({}: {})", spec_.name, v1::SchedulerState_Name(report_.state()),
               report_.exit_kind_text(), report_.exit_detail());
}

v1::SchedulerReport SchedulerSupervisor::Stop() {
  absl::MutexLock lock(&mu_);
  if (phase_ == Phase::kAttached) {
    DrainKernelLog();
    if (tracker_.disabled_seen() || !loader_->Running()) {
      FinishUnexpected();
      return report_;
    }
    StopLoader();
    const absl::Time deadline = absl::Now() + env_.disable_confirm;
    while (sysfs_.State() != "disabled" && absl::Now() < deadline) {
      absl::SleepFor(config::kAttachPoll);
    }
    // The disable line follows the state change closely; wait for it within the same budget.
    do {
      DrainKernelLog();
    } while (!tracker_.disabled_seen() && absl::Now() < deadline &&
             (absl::SleepFor(config::kAttachPoll), true));
    FillExitFromRecords();
    if (IsEjection(report_.exit_kind())) {
      report_.set_state(v1::SCHEDULER_STATE_EJECTED);  // the kernel got there first
    }
    if (std::string state = sysfs_.State(); state != "disabled") {
      report_.set_exit_detail(absl::StrCat("sched_ext state still '", state, "' ",
                                           absl::FormatDuration(env_.disable_confirm),
                                           " after the loader stopped"));
      spdlog::error("scheduler {}: {}", spec_.name, report_.exit_detail());
    }
    FillProcessAndLog();
    phase_ = Phase::kFinished;
  }
  StopLoader();
  return report_;
}

v1::SchedulerReport SchedulerSupervisor::report() const {
  absl::MutexLock lock(&mu_);
  return report_;
}

void SchedulerSupervisor::StopLoader() {
  if (!loader_ || !loader_->Running()) return;
  loader_->Signal(SIGINT);
  if (!loader_->WaitExit(env_.stop_grace)) {
    spdlog::warn("scheduler {}: loader ignored SIGINT for {}; SIGKILL", spec_.name,
                 absl::FormatDuration(env_.stop_grace));
    loader_->Signal(SIGKILL);
    loader_->WaitExit(absl::InfiniteDuration());
  }
}

void SchedulerSupervisor::FillExitFromRecords() {
  if (tracker_.disabled_seen()) {
    report_.set_exit_kind(tracker_.kind());
    report_.set_exit_kind_text(tracker_.reason());
    report_.set_exit_detail(tracker_.message());
    return;
  }
  // No kernel log: the loader's copy of the kernel's exit record (UEI) is the next best source.
  if (std::optional<std::pair<std::string, std::string>> exit = ParseLoaderExitLine(ReadLogTail())) {
    report_.set_exit_kind(SchedExitKindFromReason(exit->first, exit->second));
    report_.set_exit_kind_text(exit->first);
    report_.set_exit_detail(exit->second);
  }
}

void SchedulerSupervisor::FillProcessAndLog() {
  if (loader_ && !loader_->Running()) {
    report_.set_exit_code(loader_->exit_code());
    report_.set_signal(loader_->term_signal());
  }
  report_.set_log(ReadLogTail());
}

std::string SchedulerSupervisor::ReadLogTail() const {
  std::ifstream in(spec_.log_path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  std::streamoff size = in.tellg();
  std::streamoff start = size > static_cast<std::streamoff>(config::kMaxLogBytes)
                             ? size - static_cast<std::streamoff>(config::kMaxLogBytes)
                             : 0;
  in.seekg(start);
  std::string tail(static_cast<size_t>(size - start), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  tail.resize(static_cast<size_t>(in.gcount()));
  return tail;
}

}  // namespace ktstr::agent
