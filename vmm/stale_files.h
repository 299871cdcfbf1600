// Files a VM owner leaves behind when it is SIGKILLed (its QEMU dies through PDEATHSIG, but
// no destructor runs): per-VM work directories and guest RAM/state files.
//
// Liveness is an flock, not a pid: each owning process holds LOCK_EX on
// "<ram_dir>/ktstr-vmowner-<token>.lock" for its whole life, and its file names carry the
// token. The kernel drops the lock when the process dies, so a later process can tell dead
// owners from live ones even across pid namespaces (Bazel's sandbox), where pids lie.
#ifndef KTSTR_VMM_STALE_FILES_H_
#define KTSTR_VMM_STALE_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ktstr::vmm {

// This process's owner token ("<pid>_<random hex>"), after taking its lock in `ram_dir`
// (once per directory; the fd stays open until exit).
absl::StatusOr<std::string> AcquireOwnerToken(const std::string& ram_dir);

// "<work_dir>/ktstr-vm-<token>-XXXXXX" (mkdtemp template).
std::string WorkDirTemplate(absl::string_view work_dir, absl::string_view token);
// "<ram_dir>/ktstr-vmram-<token>-<unique>" (callers append "-node<i>.ram" / ".state").
std::string RamFilePrefix(absl::string_view ram_dir, absl::string_view token,
                          absl::string_view unique);

// Removes work directories and RAM/state files whose owner's lock in `ram_dir` is free (the
// owner died), then that lock file. Files without a lock file, of live owners, or not named
// as above stay. Returns the number of entries removed.
int RemoveStaleVmFiles(const std::string& work_dir, const std::string& ram_dir);

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_STALE_FILES_H_
