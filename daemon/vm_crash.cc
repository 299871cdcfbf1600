#include "daemon/vm_crash.h"

#include "absl/time/clock.h"

namespace ktstr::daemon {
namespace {
// Console excerpt kept with a crash (the detector keeps up to 64 KiB of context).
constexpr size_t kExcerptBytes = 8000;
constexpr absl::Duration kCrashPoll = absl::Milliseconds(50);
}  // namespace

ktstr::v1::CrashKind ToProtoCrash(vmm::CrashKind k) {
  switch (k) {
    case vmm::CrashKind::kKernelPanic: return ktstr::v1::CRASH_KIND_PANIC;
    case vmm::CrashKind::kBug: return ktstr::v1::CRASH_KIND_BUG;
    case vmm::CrashKind::kWarning: return ktstr::v1::CRASH_KIND_WARNING;
    case vmm::CrashKind::kGeneralProtectionFault: return ktstr::v1::CRASH_KIND_GPF;
    case vmm::CrashKind::kOops: return ktstr::v1::CRASH_KIND_OOPS;
    case vmm::CrashKind::kRcuStall: return ktstr::v1::CRASH_KIND_RCU_STALL;
    case vmm::CrashKind::kSoftLockup: return ktstr::v1::CRASH_KIND_SOFT_LOCKUP;
    case vmm::CrashKind::kHardLockup: return ktstr::v1::CRASH_KIND_HARD_LOCKUP;
    case vmm::CrashKind::kHungTask: return ktstr::v1::CRASH_KIND_HUNG_TASK;
    default: return ktstr::v1::CRASH_KIND_UNSPECIFIED;
  }
}

std::optional<CrashObservation> WorstCrash(const vmm::Vm& vm) {
  std::optional<CrashObservation> warning;
  for (const vmm::CrashReport& r : vm.Crashes()) {
    ktstr::v1::CrashKind k = ToProtoCrash(r.event.kind);
    if (k == ktstr::v1::CRASH_KIND_UNSPECIFIED) continue;
    CrashObservation c{k, r.event.line, r.context.substr(0, kExcerptBytes)};
    if (IsFatalCrash(k)) return c;
    if (!warning) warning = c;
  }
  return warning;
}

std::optional<CrashObservation> AwaitFatalCrash(const vmm::Vm& vm, absl::Duration settle) {
  const absl::Time deadline = absl::Now() + settle;
  while (true) {
    std::optional<CrashObservation> c = WorstCrash(vm);
    if (c && IsFatalCrash(c->kind)) return c;
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(kCrashPoll);
  }
}

}  // namespace ktstr::daemon
