#include "vmm/vm_spec.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace ktstr::vmm {

absl::Status VmSpec::Validate() const {
  if (absl::Status s = topology.Validate(); !s.ok()) return s;
  if (absl::Status s = ValidateMemory(topology, memory_mb); !s.ok()) return s;
  for (const std::string* f : {&kernel_path, &initramfs_path, &qemu_binary}) {
    if (f->empty())
      return absl::InvalidArgumentError("VmSpec: kernel, initramfs and qemu paths are required");
    if (access(f->c_str(), R_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("VmSpec: ", *f, ": ", strerror(errno)));
    }
  }
  if (boot_timeout <= absl::ZeroDuration() || lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("VmSpec: boot_timeout and lifetime must be positive");
  }
  return absl::OkStatus();
}

}  // namespace ktstr::vmm
