// Cold boot vs clone restore, each measured from QEMU launch to the guest's first answer on
// the channel (PING -> PONG from vmm/testing/test_init.c). Prints min/median/max over N runs,
// the ratio of the medians, and the accelerator.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"
#include "vmm/qemu_args.h"
#include "vmm/qemu_vm.h"
#include "vmm/snapshot.h"
#include "vmm/testing/line_channel.h"

namespace ktstr::vmm {
namespace {

constexpr char kUsage[] = R"(usage: boot [--runs=N] [--topology=PRESET|1n2l2c1t] [--memory-mb=M]
            [--kernel=VMLINUX] [--initramfs=CPIO] [--accel=auto|kvm|tcg]

Boots N VMs cold and restores N clones of one snapshot, timing each from QEMU's launch to the
guest's first answer on the virtio-serial channel. Prints min/median/max for both, the ratio
of the medians and the accelerator used.

defaults: --runs=5 --topology=tiny-2llc --memory-mb=1024
          --kernel=$KTSTR_CACHE_DIR/debian/default/vmlinux (~/.cache/ktstr/...)
          --initramfs=vmm/test_initramfs.cpio.gz (from bazel run's runfiles)
)";

struct Options {
  int runs = 5;
  std::string topology = "tiny-2llc";
  int memory_mb = 1024;
  std::string kernel;
  std::string initramfs = "vmm/test_initramfs.cpio.gz";
  Accel accel = Accel::kAuto;
};

bool ParseFlags(int argc, char** argv, Options* o) {
  const char* cache = getenv("KTSTR_CACHE_DIR");
  const char* home = getenv("HOME");
  o->kernel = cache ? absl::StrCat(cache, "/debian/default/vmlinux")
                    : absl::StrCat(home ? home : "/root", "/.cache/ktstr/debian/default/vmlinux");
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    auto value = [&](absl::string_view flag, std::string* out) {
      if (!absl::ConsumePrefix(&a, flag)) return false;
      *out = std::string(a);
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      fputs(kUsage, stdout);
      exit(0);
    } else if (value("--runs=", &v)) {
      if (!absl::SimpleAtoi(v, &o->runs) || o->runs < 1) return false;
    } else if (value("--memory-mb=", &v)) {
      if (!absl::SimpleAtoi(v, &o->memory_mb)) return false;
    } else if (value("--topology=", &o->topology) || value("--kernel=", &o->kernel) ||
               value("--initramfs=", &o->initramfs)) {
    } else if (value("--accel=", &v)) {
      absl::StatusOr<Accel> accel = ParseAccel(v);
      if (!accel.ok()) return false;
      o->accel = *accel;
    } else {
      fprintf(stderr, "unknown argument: %s\n", argv[i]);
      return false;
    }
  }
  return true;
}

struct Stats {
  double min, median, max;
};

Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {v.front(), median, v.back()};
}

// Proportional set size of a process in MiB (smaps_rollup), or -1.
double PssMib(pid_t pid) {
  FILE* f = fopen(absl::StrCat("/proc/", pid, "/smaps_rollup").c_str(), "r");
  if (f == nullptr) return -1;
  char line[256];
  double kb = -1;
  while (fgets(line, sizeof(line), f) != nullptr) {
    if (sscanf(line, "Pss: %lf kB", &kb) == 1) break;
  }
  fclose(f);
  return kb < 0 ? -1 : kb / 1024;
}

// Seconds from launch to the first PONG.
absl::StatusOr<double> FirstAnswer(const Vm& vm) {
  absl::StatusOr<std::string> pong =
      testing::AskLine(vm.channel_socket_path(), "PING", absl::Seconds(60));
  if (!pong.ok()) return pong.status();
  if (!absl::StartsWith(*pong, "PONG")) return absl::InternalError("unexpected answer " + *pong);
  return absl::ToDoubleSeconds(absl::Now() - vm.launched_at());
}

int Main(int argc, char** argv) {
  Options o;
  if (!ParseFlags(argc, argv, &o)) {
    fputs(kUsage, stderr);
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  absl::StatusOr<Topology> topology = FindPreset(o.topology);
  if (!topology.ok()) topology = ParseTopology(o.topology);
  if (!topology.ok()) {
    fprintf(stderr, "%s\n", topology.status().ToString().c_str());
    return 2;
  }
  VmSpec spec{.kernel_path = o.kernel,
              .initramfs_path = o.initramfs,
              .topology = *topology,
              .memory_mb = o.memory_mb,
              .accel = o.accel,
              .boot_timeout = absl::Seconds(240)};
  const AccelChoice accel = ResolveAccel(o.accel);
  printf("topology %s, %d MiB, accelerator %s (%s), host TSC %ld kHz, %d runs each\n",
         topology->ToString().c_str(), o.memory_mb, std::string(AccelName(accel.accel)).c_str(),
         accel.reason.c_str(), HostTscKhz(), o.runs);

  std::vector<double> cold;
  for (int i = 0; i < o.runs; ++i) {
    absl::StatusOr<std::unique_ptr<QemuVm>> vm = QemuVm::Boot(spec);
    if (!vm.ok()) {
      fprintf(stderr, "cold boot %d failed: %s\n", i, vm.status().ToString().c_str());
      return 1;
    }
    absl::StatusOr<double> t = FirstAnswer(**vm);
    if (!t.ok()) {
      fprintf(stderr, "cold boot %d: %s\n", i, t.status().ToString().c_str());
      return 1;
    }
    printf("  cold    run %d: %.3f s\n", i + 1, *t);
    cold.push_back(*t);
  }

  absl::StatusOr<std::unique_ptr<QemuVm>> templ = QemuVm::Boot(spec);
  if (!templ.ok()) {
    fprintf(stderr, "template boot failed: %s\n", templ.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<Snapshot>> snap = Snapshot::Take(std::move(*templ));
  if (!snap.ok()) {
    fprintf(stderr, "snapshot failed: %s\n", snap.status().ToString().c_str());
    return 1;
  }
  std::vector<double> restore;
  for (int i = 0; i < o.runs; ++i) {
    absl::StatusOr<std::unique_ptr<Vm>> clone = (*snap)->StartClone();
    if (!clone.ok()) {
      fprintf(stderr, "restore %d failed: %s\n", i, clone.status().ToString().c_str());
      return 1;
    }
    absl::StatusOr<double> t = FirstAnswer(**clone);
    if (!t.ok()) {
      fprintf(stderr, "restore %d: %s\n", i, t.status().ToString().c_str());
      return 1;
    }
    printf("  restore run %d: %.3f s  (clone Pss %.0f MiB)\n", i + 1, *t, PssMib((*clone)->pid()));
    restore.push_back(*t);
  }
  const Stats c = Summarize(cold), r = Summarize(restore);
  printf("cold boot -> first answer: min %.3f  median %.3f  max %.3f s\n", c.min, c.median, c.max);
  printf("restore   -> first answer: min %.3f  median %.3f  max %.3f s\n", r.min, r.median, r.max);
  printf("ratio (median cold / median restore): %.1fx   accelerator: %s\n", c.median / r.median,
         std::string(AccelName(accel.accel)).c_str());
  return 0;
}

}  // namespace
}  // namespace ktstr::vmm

int main(int argc, char** argv) { return ktstr::vmm::Main(argc, argv); }
