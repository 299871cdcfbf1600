#include "vmm/testing/fake_vm.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace ktstr::vmm::testing {

FakeVm::FakeVm(VmSpec spec, std::string channel_socket_path, std::string console)
    : spec_(std::move(spec)), channel_(std::move(channel_socket_path)) {
  AppendConsole(console);
}

VmState FakeVm::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

std::string FakeVm::ConsoleText() const {
  absl::MutexLock lock(&mu_);
  return console_;
}

std::vector<CrashReport> FakeVm::Crashes() const {
  absl::MutexLock lock(&mu_);
  std::vector<CrashReport> out;
  for (const CrashEvent& e : detector_.events()) out.push_back({e, console_});
  return out;
}

bool FakeVm::HasFatalCrash() const {
  absl::MutexLock lock(&mu_);
  for (const CrashEvent& e : detector_.events()) {
    if (IsFatal(e.kind)) return true;
  }
  return false;
}

bool FakeVm::WaitExited(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto exited = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_ == VmState::kExited || state_ == VmState::kKilled;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&exited), timeout);
}

void FakeVm::Kill() {
  absl::MutexLock lock(&mu_);
  if (state_ != VmState::kExited) state_ = VmState::kKilled;
}

void FakeVm::AppendConsole(absl::string_view text) {
  absl::MutexLock lock(&mu_);
  console_.append(text.data(), text.size());
  detector_.Feed(text);
}

void FakeVm::Exit() {
  absl::MutexLock lock(&mu_);
  if (state_ != VmState::kKilled) state_ = VmState::kExited;
}

class FakeTemplate final : public VmTemplate {
 public:
  FakeTemplate(FakeLauncher* launcher, VmSpec spec) : launcher_(launcher), spec_(std::move(spec)) {}
  absl::StatusOr<std::unique_ptr<Vm>> StartClone() const override {
    return launcher_->Start(spec_, nullptr, /*clone=*/true, taken_at_);
  }
  const VmSpec& spec() const override { return spec_; }
  absl::Time taken_at() const override { return taken_at_; }

 private:
  FakeLauncher* const launcher_;
  const VmSpec spec_;
  const absl::Time taken_at_ = absl::Now();
};

absl::StatusOr<std::unique_ptr<Vm>> FakeLauncher::Boot(const VmSpec& spec, BootFailure* failure) {
  return Start(spec, failure, /*clone=*/false, absl::InfinitePast());
}

absl::StatusOr<std::unique_ptr<Vm>> FakeLauncher::Start(const VmSpec& spec, BootFailure* failure,
                                                        bool clone, absl::Time taken_at) {
  if (absl::Status s = spec.topology.Validate(); !s.ok()) return s;
  BootFailureKind fail = BootFailureKind::kNone;
  int id;
  {
    absl::MutexLock lock(&mu_);
    if (!failures_.empty()) {
      fail = failures_.front();
      failures_.pop_front();
    }
    id = next_id_++;
    (clone ? clones_ : boots_)++;
  }
  if (fail == BootFailureKind::kCancelled) {
    const absl::Time give_up = absl::Now() + absl::Minutes(1);
    while (absl::Now() < give_up) {
      if (spec.boot_canceller != nullptr && spec.boot_canceller->cancelled()) {
        absl::MutexLock lock(&mu_);
        ++cancelled_boots_;
        if (failure != nullptr) *failure = BootFailure{.kind = BootFailureKind::kCancelled};
        return absl::CancelledError("boot cancelled");
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    fail = BootFailureKind::kTimedOut;
  }
  if (fail != BootFailureKind::kNone) {
    BootFailure f{.kind = fail};
    if (fail == BootFailureKind::kCrashed) {
      f.console = "Kernel panic - not syncing: fake crash\n";
      CrashDetector d;
      d.Feed(f.console);
      f.crashes = d.events();
    }
    if (failure != nullptr) *failure = f;
    return fail == BootFailureKind::kTimedOut
               ? absl::DeadlineExceededError("fake boot timed out")
               : absl::AbortedError(absl::StrCat("fake boot failed: ", BootFailureKindName(fail)));
  }
  auto vm =
      std::make_unique<FakeVm>(spec, absl::StrCat("/tmp/ktstr_fakevm_", getpid(), "_", id, ".sock"),
                               clone ? "" : absl::StrCat(config::kReadyMarker, "\n"));
  if (clone) vm->set_snapshot_taken_at(taken_at);
  return std::unique_ptr<Vm>(std::move(vm));
}

absl::StatusOr<std::unique_ptr<VmTemplate>> FakeLauncher::SaveTemplate(std::unique_ptr<Vm> vm) {
  if (vm == nullptr || vm->state() != VmState::kReady) {
    return absl::FailedPreconditionError("SaveTemplate needs a ready VM");
  }
  return std::unique_ptr<VmTemplate>(std::make_unique<FakeTemplate>(this, vm->spec()));
}

void FakeLauncher::QueueBootFailure(BootFailureKind kind) {
  absl::MutexLock lock(&mu_);
  failures_.push_back(kind);
}

int FakeLauncher::boots() const {
  absl::MutexLock lock(&mu_);
  return boots_;
}

int FakeLauncher::clones() const {
  absl::MutexLock lock(&mu_);
  return clones_;
}

int FakeLauncher::cancelled_boots() const {
  absl::MutexLock lock(&mu_);
  return cancelled_boots_;
}

}  // namespace ktstr::vmm::testing
