#include "vmm/accel.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "spdlog/spdlog.h"

namespace ktstr::vmm {
namespace {

bool HostCpuHasVirtualization() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    for (absl::string_view flag : absl::StrSplit(line, ' ')) {
      if (flag == "vmx" || flag == "svm") return true;
    }
    return false;  // the first CPU's flags are representative
  }
  return false;
}

AccelChoice Probe() {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return {Accel::kTcg, absl::StrCat("/dev/kvm: ", strerror(errno))};
  const int version = ioctl(fd, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    close(fd);
    return {Accel::kTcg, absl::StrCat("/dev/kvm: unexpected API version ", version)};
  }
  const int vm = ioctl(fd, KVM_CREATE_VM, 0);
  const int vm_errno = errno;
  close(fd);
  if (vm < 0) return {Accel::kTcg, absl::StrCat("KVM_CREATE_VM: ", strerror(vm_errno))};
  close(vm);
  if (!HostCpuHasVirtualization()) {
    return {Accel::kTcg,
            "/dev/kvm opens but the CPU advertises no vmx/svm (nested sandbox; its KVM "
            "cannot run QEMU guests)"};
  }
  return {Accel::kKvm, "/dev/kvm is usable"};
}

}  // namespace

absl::string_view AccelName(Accel accel) {
  switch (accel) {
    case Accel::kAuto:
      return "auto";
    case Accel::kKvm:
      return "kvm";
    case Accel::kTcg:
      return "tcg";
  }
  return "?";
}

absl::StatusOr<Accel> ParseAccel(absl::string_view text) {
  if (text == "auto") return Accel::kAuto;
  if (text == "kvm") return Accel::kKvm;
  if (text == "tcg") return Accel::kTcg;
  return absl::InvalidArgumentError(
      absl::StrCat("accelerator \"", text, "\": expected auto, kvm or tcg"));
}

AccelChoice DetectAccel() {
  static const AccelChoice* const kChoice = [] {
    auto* c = new AccelChoice(Probe());
    spdlog::info("vmm: accelerator {} ({})", std::string(AccelName(c->accel)), c->reason);
    return c;
  }();
  return *kChoice;
}

AccelChoice ResolveAccel(Accel requested) {
  if (requested == Accel::kAuto) return DetectAccel();
  return {requested, "requested"};
}

}  // namespace ktstr::vmm
