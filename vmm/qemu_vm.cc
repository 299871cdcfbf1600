#include "vmm/qemu_vm.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"
#include "vmm/process.h"
#include "vmm/qemu_args.h"
#include "vmm/stale_files.h"

namespace ktstr::vmm {
namespace {

std::string Tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Status message for a failed boot: the reason plus the console's tail (the full text is in
// BootFailure::console).
std::string FailureMessage(absl::string_view what, const QemuVm& vm,
                           const std::vector<CrashEvent>& crashes) {
  std::string msg = std::string(what);
  for (const CrashEvent& e : crashes) {
    if (IsFatal(e.kind)) {
      absl::StrAppend(&msg, "; first fatal console line: ", e.line);
      break;
    }
  }
  absl::StrAppend(&msg, "\n--- console (tail) ---\n", Tail(vm.ConsoleText(), 4096));
  std::string err = vm.QemuStderr();
  if (!err.empty()) absl::StrAppend(&msg, "\n--- qemu stderr ---\n", Tail(err, 2048));
  return msg;
}

}  // namespace

absl::StatusOr<std::unique_ptr<QemuVm>> QemuVm::Boot(const VmSpec& spec, BootFailure* failure) {
  if (spec.boot_canceller != nullptr && spec.boot_canceller->cancelled()) {
    if (failure != nullptr) *failure = BootFailure{.kind = BootFailureKind::kCancelled};
    return absl::CancelledError("boot cancelled");
  }
  absl::StatusOr<std::unique_ptr<QemuVm>> vm = Launch(spec, LaunchOptions{});
  if (!vm.ok()) {
    if (failure != nullptr) *failure = BootFailure{.kind = BootFailureKind::kLaunch};
    return vm.status();
  }
  if (absl::Status s = (*vm)->WaitReady((*vm)->launched_at() + spec.boot_timeout, failure);
      !s.ok()) {
    return s;
  }
  return vm;
}

absl::StatusOr<std::unique_ptr<QemuVm>> QemuVm::Launch(const VmSpec& spec,
                                                       const LaunchOptions& options) {
  if (absl::Status s = spec.Validate(); !s.ok()) return s;
  std::unique_ptr<QemuVm> vm(new QemuVm());
  vm->spec_ = spec;
  vm->accel_ = ResolveAccel(spec.accel).accel;

  // Once per process: files left by owners that were SIGKILLed (their QEMU died with them).
  static const int kStaleRemoved = RemoveStaleVmFiles(spec.work_dir, spec.ram_dir);
  (void)kStaleRemoved;
  absl::StatusOr<std::string> token = AcquireOwnerToken(spec.ram_dir);
  if (!token.ok()) return token.status();
  std::string templ = WorkDirTemplate(spec.work_dir, *token);
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", templ, ": ", strerror(errno)));
  }
  vm->dir_ = templ;
  vm->qmp_socket_ = vm->dir_ + "/qmp.sock";
  vm->channel_socket_ = vm->dir_ + "/agent.sock";
  vm->stderr_path_ = vm->dir_ + "/qemu.stderr";
  if (vm->channel_socket_.size() >= 108) {
    return absl::InvalidArgumentError(
        absl::StrCat("work_dir \"", spec.work_dir, "\" is too long for unix socket paths"));
  }

  if (!options.clone_ram_files.empty()) {
    vm->ram_files_ = options.clone_ram_files;
    vm->owns_ram_files_ = false;
  } else {
    static std::atomic<int> seq{0};
    const std::string prefix = RamFilePrefix(
        spec.ram_dir, *token, absl::StrCat(seq++, "-", vm->dir_.substr(vm->dir_.size() - 6)));
    for (int n = 0; n < spec.topology.numa_nodes; ++n) {
      vm->ram_files_.push_back(absl::StrCat(prefix, "-node", n, ".ram"));
    }
  }

  absl::StatusOr<std::unique_ptr<ConsoleLog>> log = ConsoleLog::Create(
      spec.console_log_path.empty() ? vm->dir_ + "/console.log" : spec.console_log_path,
      config::kConsoleLogFileLimit);
  if (!log.ok()) return log.status();
  vm->console_ = std::move(*log);

  QemuInstance inst{.accel = vm->accel_,
                    .qmp_socket = vm->qmp_socket_,
                    .channel_socket = vm->channel_socket_,
                    .ram_files = vm->ram_files_,
                    .share_ram = options.clone_ram_files.empty(),
                    .incoming = options.incoming,
                    .tsc_khz = HostTscKhz()};
  absl::StatusOr<std::vector<std::string>> argv = BuildQemuArgs(spec, inst);
  if (!argv.ok()) return argv.status();

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", strerror(errno)));
  }
  int err_fd = open(vm->stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (err_fd < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return absl::InternalError(absl::StrCat(vm->stderr_path_, ": ", strerror(errno)));
  }
  vm->launched_at_ = absl::Now();
  absl::StatusOr<pid_t> pid =
      SpawnProcess(*argv, SpawnFds{.stdout_fd = pipe_fds[1], .stderr_fd = err_fd});
  close(pipe_fds[1]);
  close(err_fd);
  if (!pid.ok()) {
    close(pipe_fds[0]);
    return pid.status();
  }
  vm->pid_ = *pid;
  vm->console_fd_ = pipe_fds[0];
  fcntl(vm->console_fd_, F_SETFL, O_NONBLOCK);
  {
    absl::MutexLock lock(&vm->mu_);
    vm->state_ = options.incoming ? VmState::kRestoring : VmState::kBooting;
  }
  vm->monitor_ = std::thread([raw = vm.get()] { raw->MonitorLoop(); });
  spdlog::info("vmm: launched qemu pid {} topology {} {} MiB accel {}{} dir {}", vm->pid_,
               spec.topology.ToString(), spec.memory_mb, std::string(AccelName(vm->accel_)),
               options.incoming ? " (clone)" : "", vm->dir_);
  spdlog::debug("vmm: argv: {}", absl::StrJoin(*argv, " "));

  // Connect to QMP; give up early if QEMU exits (bad arguments end up in its stderr).
  const absl::Time qmp_deadline = absl::Now() + config::kQmpConnectTimeout;
  while (true) {
    absl::StatusOr<std::unique_ptr<QmpClient>> qmp = QmpClient::Connect(
        vm->qmp_socket_, std::min(qmp_deadline, absl::Now() + absl::Milliseconds(200)));
    if (qmp.ok()) {
      vm->qmp_ = std::move(*qmp);
      break;
    }
    bool exited;
    {
      absl::MutexLock lock(&vm->mu_);
      exited = vm->exited_;
    }
    if (exited || absl::Now() >= qmp_deadline) {
      return absl::UnavailableError(absl::StrCat("QEMU did not come up (", qmp.status().message(),
                                                 ")\n--- qemu stderr ---\n",
                                                 Tail(vm->QemuStderr(), 2048)));
    }
  }
  return vm;
}

QemuVm::~QemuVm() { Cleanup(); }

void QemuVm::Cleanup() {
  if (pid_ > 0) Kill();
  if (monitor_.joinable()) monitor_.join();
  qmp_.reset();
  if (console_fd_ >= 0) close(console_fd_);
  console_fd_ = -1;
  if (!dir_.empty()) {
    for (const std::string& f : {qmp_socket_, channel_socket_, stderr_path_,
                                 dir_ + "/console.log"}) {  // a spec.console_log_path stays
      unlink(f.c_str());
    }
    if (rmdir(dir_.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("vmm: could not remove {}: {}", dir_, strerror(errno));
    }
  }
  if (owns_ram_files_) {
    for (const std::string& f : ram_files_) unlink(f.c_str());
  }
}

void QemuVm::Kill() {
  {
    absl::MutexLock lock(&mu_);
    if (pid_ <= 0 || exited_) return;
    kill_requested_ = true;
    // Reaping happens under mu_ (MonitorLoop), so the pid cannot have been reused here.
    KillProcessGroup(pid_);
  }
  if (!WaitExited(absl::Seconds(30))) {
    spdlog::error("vmm: qemu pid {} did not die after SIGKILL", pid_);
  }
}

bool QemuVm::WaitExited(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&exited_), timeout);
}

void QemuVm::MonitorLoop() {
  const absl::Time lifetime_end = spec_.lifetime == absl::InfiniteDuration()
                                      ? absl::InfiniteFuture()
                                      : launched_at_ + spec_.lifetime;
  char buf[16384];
  bool eof = false;
  while (true) {
    if (!eof) {
      pollfd p{.fd = console_fd_, .events = POLLIN};
      poll(&p, 1, 100);
      while (true) {
        ssize_t n = read(console_fd_, buf, sizeof(buf));
        if (n > 0) {
          OnConsoleData(absl::string_view(buf, n));
          continue;
        }
        if (n == 0) eof = true;
        break;  // EAGAIN, EOF or error
      }
    } else {
      usleep(10000);
    }
    // Detect exit without reaping, so Kill() never signals a recycled pid.
    siginfo_t info{};
    if (waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_) {
      while (true) {  // drain what QEMU wrote last
        ssize_t n = read(console_fd_, buf, sizeof(buf));
        if (n <= 0) break;
        OnConsoleData(absl::string_view(buf, n));
      }
      absl::MutexLock lock(&mu_);
      int status = 0;
      waitpid(pid_, &status, 0);
      wait_status_ = status;
      exited_ = true;
      state_ = kill_requested_ ? VmState::kKilled : VmState::kExited;
      detector_.Finish();
      spdlog::info("vmm: qemu pid {} {} (status {:#x})", pid_, std::string(VmStateName(state_)),
                   status);
      return;
    }
    if (absl::Now() >= lifetime_end) {
      absl::MutexLock lock(&mu_);
      if (!kill_requested_) {
        spdlog::warn("vmm: qemu pid {} reached its lifetime of {}; killing it", pid_,
                     absl::FormatDuration(spec_.lifetime));
        kill_requested_ = true;
        KillProcessGroup(pid_);
      }
    }
  }
}

void QemuVm::OnConsoleData(absl::string_view data) {
  console_->Append(data);
  absl::MutexLock lock(&mu_);
  detector_.Feed(data);
  if (ready_seen_) return;
  for (char c : data) {
    if (c == '\n') {
      if (absl::StrContains(line_, config::kReadyMarker)) {
        ready_seen_ = true;
        ready_at_ = absl::Now();
        line_.clear();
        return;
      }
      line_.clear();
    } else if (line_.size() < 4096) {
      line_.push_back(c);
    }
  }
}

absl::Status QemuVm::WaitReady(absl::Time deadline, BootFailure* failure) {
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (ready_seen_ || exited_) return true;
    for (const CrashEvent& e : detector_.events()) {
      if (IsFatal(e.kind)) return true;
    }
    return false;
  };
  auto cancelled = [this] {
    return spec_.boot_canceller != nullptr && spec_.boot_canceller->cancelled();
  };
  BootFailureKind kind = BootFailureKind::kNone;
  {
    absl::MutexLock lock(&mu_);
    // The canceller is not under mu_: look at it between bounded waits.
    while (!mu_.AwaitWithDeadline(absl::Condition(&done),
                                  std::min(deadline, absl::Now() + config::kBootCancelPoll)) &&
           absl::Now() < deadline && !cancelled()) {
    }
    const bool fatal = std::any_of(detector_.events().begin(), detector_.events().end(),
                                   [](const CrashEvent& e) { return IsFatal(e.kind); });
    if (fatal) {
      kind = BootFailureKind::kCrashed;
    } else if (ready_seen_) {
      if (state_ == VmState::kBooting) state_ = VmState::kReady;
      spdlog::info("vmm: qemu pid {} ready after {}", pid_,
                   absl::FormatDuration(ready_at_ - launched_at_));
      return absl::OkStatus();
    } else if (exited_) {
      kind = BootFailureKind::kQemuExited;
    } else if (cancelled()) {
      kind = BootFailureKind::kCancelled;
    } else {
      kind = BootFailureKind::kTimedOut;
    }
  }
  if (kind == BootFailureKind::kCrashed) {
    WaitExited(config::kCrashSettleTime);  // let the panic finish printing; QEMU then exits
  }
  Kill();
  std::vector<CrashEvent> crashes;
  {
    absl::MutexLock lock(&mu_);
    crashes = detector_.events();
  }
  if (failure != nullptr) {
    *failure = BootFailure{
        .kind = kind, .console = ConsoleText(), .qemu_stderr = QemuStderr(), .crashes = crashes};
  }
  spdlog::warn("vmm: qemu pid {} boot failed: {}", pid_, std::string(BootFailureKindName(kind)));
  switch (kind) {
    case BootFailureKind::kTimedOut:
      return absl::DeadlineExceededError(FailureMessage(
          absl::StrCat("guest did not print ", config::kReadyMarker, " in time"), *this, crashes));
    case BootFailureKind::kCrashed:
      return absl::AbortedError(FailureMessage("guest crashed before ready", *this, crashes));
    case BootFailureKind::kCancelled:
      return absl::CancelledError("boot cancelled");
    default:
      return absl::AbortedError(
          FailureMessage("QEMU exited before the guest was ready", *this, crashes));
  }
}

VmState QemuVm::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

absl::Time QemuVm::ready_at() const {
  absl::MutexLock lock(&mu_);
  return ready_at_;
}

std::optional<int> QemuVm::wait_status() const {
  absl::MutexLock lock(&mu_);
  return wait_status_;
}

std::string QemuVm::QemuStderr() const { return ReadFile(stderr_path_); }

std::vector<CrashReport> QemuVm::Crashes() const {
  std::vector<CrashEvent> events;
  {
    absl::MutexLock lock(&mu_);
    events = detector_.events();
  }
  std::vector<CrashReport> out;
  for (CrashEvent& e : events) {
    const uint64_t begin =
        e.offset > config::kCrashContextBytes ? e.offset - config::kCrashContextBytes : 0;
    std::string context = console_->Excerpt(begin, e.offset + config::kCrashContextBytes);
    out.push_back(CrashReport{.event = std::move(e), .context = std::move(context)});
  }
  return out;
}

bool QemuVm::HasFatalCrash() const {
  absl::MutexLock lock(&mu_);
  for (const CrashEvent& e : detector_.events()) {
    if (IsFatal(e.kind)) return true;
  }
  return false;
}

std::vector<std::string> QemuVm::ReleaseRamFiles() {
  owns_ram_files_ = false;
  return ram_files_;
}

void QemuVm::MarkResumed() {
  absl::MutexLock lock(&mu_);
  if (!exited_) {
    state_ = VmState::kReady;
    if (ready_at_ == absl::InfinitePast()) ready_at_ = absl::Now();
  }
}

void QemuVm::MarkPaused() {
  absl::MutexLock lock(&mu_);
  if (!exited_) state_ = VmState::kPaused;
}

absl::StatusOr<std::unique_ptr<Vm>> QemuLauncher::Boot(const VmSpec& spec, BootFailure* failure) {
  absl::StatusOr<std::unique_ptr<QemuVm>> vm = QemuVm::Boot(spec, failure);
  if (!vm.ok()) return vm.status();
  return std::unique_ptr<Vm>(std::move(*vm));
}

absl::StatusOr<std::unique_ptr<Vm>> Vm::Boot(const VmSpec& spec, BootFailure* failure) {
  return QemuLauncher().Boot(spec, failure);
}

}  // namespace ktstr::vmm
