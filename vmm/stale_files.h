// Files a VM owner leaves behind when it is SIGKILLed (its QEMU dies through PDEATHSIG, but
// no destructor runs): per-VM work directories and guest RAM files. Their names carry the
// owner's pid, so a later process can remove those whose owner is gone.
#ifndef KTSTR_VMM_STALE_FILES_H_
#define KTSTR_VMM_STALE_FILES_H_

#include <sys/types.h>

#include <string>

#include "absl/strings/string_view.h"

namespace ktstr::vmm {

// "<work_dir>/ktstr-vm-<pid>-XXXXXX" (mkdtemp template) for a VM owned by `owner`.
std::string WorkDirTemplate(absl::string_view work_dir, pid_t owner);
// "<ram_dir>/ktstr-vmram-<pid>-<unique>" (callers append "-node<i>.ram" / ".state").
std::string RamFilePrefix(absl::string_view ram_dir, pid_t owner, absl::string_view unique);

// Removes work directories and RAM/state files whose owner pid no longer exists. Returns the
// number of entries removed. Files of live owners (and anything not named as above) stay.
int RemoveStaleVmFiles(const std::string& work_dir, const std::string& ram_dir);

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_STALE_FILES_H_
