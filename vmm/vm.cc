#include "vmm/vm.h"

namespace ktstr::vmm {

absl::string_view VmStateName(VmState state) {
  switch (state) {
    case VmState::kBooting:
      return "booting";
    case VmState::kRestoring:
      return "restoring";
    case VmState::kReady:
      return "ready";
    case VmState::kPaused:
      return "paused";
    case VmState::kExited:
      return "exited";
    case VmState::kKilled:
      return "killed";
  }
  return "?";
}

absl::string_view BootFailureKindName(BootFailureKind kind) {
  switch (kind) {
    case BootFailureKind::kNone:
      return "none";
    case BootFailureKind::kLaunch:
      return "launch";
    case BootFailureKind::kCrashed:
      return "crashed";
    case BootFailureKind::kQemuExited:
      return "qemu_exited";
    case BootFailureKind::kTimedOut:
      return "timed_out";
    case BootFailureKind::kCancelled:
      return "cancelled";
  }
  return "?";
}

}  // namespace ktstr::vmm
