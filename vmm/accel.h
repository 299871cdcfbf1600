// Which accelerator QEMU uses: KVM when the host can really run KVM guests, TCG otherwise.
#ifndef KTSTR_VMM_ACCEL_H_
#define KTSTR_VMM_ACCEL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ktstr::vmm {

enum class Accel { kAuto, kKvm, kTcg };

absl::string_view AccelName(Accel accel);
// "auto" | "kvm" | "tcg".
absl::StatusOr<Accel> ParseAccel(absl::string_view text);

struct AccelChoice {
  Accel accel;         // kKvm or kTcg, never kAuto
  std::string reason;  // why, for the log ("/dev/kvm: Permission denied", ...)
};

// KVM when /dev/kvm opens read-write, creates a VM, and the host CPU advertises vmx/svm.
// The last check matters: nested sandboxes (this machine included) expose a /dev/kvm whose
// VMs cannot run (QEMU aborts setting MSRs, or the guest never executes). The result is
// computed once per process and logged with its reason.
AccelChoice DetectAccel();

// kAuto → DetectAccel(); otherwise the requested accelerator, with "requested" as reason.
AccelChoice ResolveAccel(Accel requested);

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_ACCEL_H_
