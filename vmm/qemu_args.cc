#include "vmm/qemu_args.h"

#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace ktstr::vmm {
namespace {

int BitsFor(int count) {
  int bits = 0;
  while ((1 << bits) < count) ++bits;
  return bits;
}

}  // namespace

std::vector<std::string> FixedKernelArgs(long tsc_khz) {
  std::vector<std::string> args = {
      // ttyS0 carries kernel messages and the ready marker; the crash detector reads it.
      "console=ttyS0",
      // Reboot at once on panic; with -no-reboot QEMU then exits, so a panic ends the VM.
      "panic=-1",
      "mitigations=off",
      // quiet keeps slow 8250 writes out of the boot; loglevel=5 still shows WARNING:
      // (KERN_WARNING) so the crash detector sees warnings.
      "quiet",
      "loglevel=5",
      // Host introspection of guest memory assumes the kernel text at its link address.
      "nokaslr",
      "tsc=reliable",
      "no_timer_check",
      "i8042.noaux",
      "i8042.nomux",
      "i8042.nopnp",
      "i8042.dumbkbd",
      "random.trust_cpu=on",
      // No lockdown=none (ktstr passes it): this kernel rejects it ("Malformed early option
      // 'lockdown'") and is not locked down without Secure Boot anyway.
      "sysctl.kernel.unprivileged_bpf_disabled=0",
      "sysctl.kernel.sched_schedstats=1",
      "rdinit=/init",
  };
  // Without it TSC calibration against the PIT fails on a loaded host and the boot can hang.
  if (tsc_khz > 0) args.push_back(absl::StrCat("tsc_early_khz=", tsc_khz));
  return args;
}

int MaxApicId(const Topology& t) {
  const int thread_bits = BitsFor(t.threads_per_core);
  const int core_bits = BitsFor(t.cores_per_llc);
  const int die_bits = BitsFor(t.LlcsPerNode());
  return ((t.numa_nodes - 1) << (die_bits + core_bits + thread_bits)) |
         ((t.LlcsPerNode() - 1) << (core_bits + thread_bits)) |
         ((t.cores_per_llc - 1) << thread_bits) | (t.threads_per_core - 1);
}

absl::StatusOr<std::vector<std::string>> BuildQemuArgs(const VmSpec& spec,
                                                       const QemuInstance& inst) {
  const Topology& t = spec.topology;
  if (absl::Status s = t.Validate(); !s.ok()) return s;
  if (absl::Status s = ValidateMemory(t, spec.memory_mb); !s.ok()) return s;
  if (static_cast<int>(inst.ram_files.size()) != t.numa_nodes) {
    return absl::InvalidArgumentError(absl::StrCat("need one RAM file per NUMA node (",
                                                   t.numa_nodes, "), got ", inst.ram_files.size()));
  }
  const bool kvm = inst.accel == Accel::kKvm;
  const int max_apic = MaxApicId(t);
  if (max_apic > 254 && !kvm) {
    return absl::UnimplementedError(
        absl::StrCat("topology ", t.ToString(), " needs APIC id ", max_apic,
                     " > 254, which requires x2APIC; QEMU 7.2's TCG has none (use KVM)"));
  }

  std::vector<std::string> a = {spec.qemu_binary};
  auto add = [&a](std::initializer_list<std::string> items) {
    a.insert(a.end(), items.begin(), items.end());
  };
  // debug-threads names vCPU threads "CPU n/TCG|KVM" (handy in top/perf).
  add({"-name", "ktstr,debug-threads=on"});
  // Single-threaded TCG: multi-threaded TCG Oopsed 5 of ~75 guest boots here.
  add({"-accel", kvm ? "kvm" : spec.tcg_multi_thread ? "tcg,thread=multi" : "tcg,thread=single"});
  add({"-M", max_apic > 254 ? "q35,kernel-irqchip=split" : "q35"});
  add({"-m", absl::StrCat(spec.memory_mb, "M")});
  add({"-smp", absl::StrCat(t.TotalCpus(), ",sockets=", t.numa_nodes, ",dies=", t.LlcsPerNode(),
                            ",cores=", t.cores_per_llc, ",threads=", t.threads_per_core)});
  add({"-cpu", kvm ? "host" : "qemu64,vendor=GenuineIntel,l3-cache=on"});
  if (max_apic > 254) add({"-device", "intel-iommu,intremap=on,eim=on"});

  const int node_mb = spec.memory_mb / t.numa_nodes;
  for (int n = 0; n < t.numa_nodes; ++n) {
    add({"-object", absl::StrCat("memory-backend-file,id=ram", n, ",size=", node_mb, "M,mem-path=",
                                 inst.ram_files[n], ",share=", inst.share_ram ? "on" : "off")});
    const int first = n * t.CpusPerNode();
    add({"-numa", absl::StrCat("node,nodeid=", n, ",cpus=", first, "-", first + t.CpusPerNode() - 1,
                               ",memdev=ram", n)});
  }
  for (int i = 0; i < t.numa_nodes; ++i) {
    for (int j = 0; j < t.numa_nodes; ++j) {
      if (i == j) continue;
      add({"-numa", absl::StrCat("dist,src=", i, ",dst=", j, ",val=20")});
    }
  }

  std::vector<std::string> cmdline = FixedKernelArgs(inst.tsc_khz);
  cmdline.insert(cmdline.end(), spec.extra_kernel_args.begin(), spec.extra_kernel_args.end());
  add({"-kernel", spec.kernel_path, "-initrd", spec.initramfs_path, "-append",
       absl::StrJoin(cmdline, " ")});

  add({"-nodefaults", "-no-user-config", "-display", "none", "-vga", "none", "-no-reboot"});
  // The console goes to QEMU's stdout (a pipe the Vm reads); signal=off keeps a stray ^C in
  // the stream from killing QEMU.
  add({"-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console"});
  add({"-device", "virtio-serial-pci,id=vser0"});
  add({"-chardev",
       absl::StrCat("socket,id=agent,path=", inst.channel_socket, ",server=on,wait=off")});
  add({"-device",
       absl::StrCat("virtserialport,bus=vser0.0,chardev=agent,name=", config::kChannelPortName)});
  add({"-qmp", absl::StrCat("unix:", inst.qmp_socket, ",server=on,wait=off")});
  if (inst.incoming) add({"-incoming", "defer"});
  return a;
}

namespace {

long CpuinfoMhzAsKhz() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view v = line;
    if (!absl::ConsumePrefix(&v, "cpu MHz")) continue;
    size_t colon = v.find(':');
    if (colon == absl::string_view::npos) return 0;
    double mhz = 0;
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(v.substr(colon + 1)), &mhz)) return 0;
    return static_cast<long>(mhz * 1000.0 + 0.5);
  }
  return 0;
}

#if defined(__x86_64__)
// TSC ticks against CLOCK_MONOTONIC_RAW over ~20 ms: within ~0.01 % (here 2596.16 MHz vs the
// kernel's 2596.146), unlike "cpu MHz", which follows frequency scaling on some hosts.
long MeasureTscKhz() {
  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC_RAW, &t0);
  const uint64_t c0 = __rdtsc();
  timespec sleep{.tv_sec = 0, .tv_nsec = 20'000'000};
  nanosleep(&sleep, nullptr);
  clock_gettime(CLOCK_MONOTONIC_RAW, &t1);
  const uint64_t c1 = __rdtsc();
  const double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
  if (ns <= 0 || c1 <= c0) return 0;
  return static_cast<long>((c1 - c0) / ns * 1e6 + 0.5);
}
#endif

}  // namespace

long HostTscKhz() {
  static const long kKhz = [] {
#if defined(__x86_64__)
    if (long measured = MeasureTscKhz(); measured > 0) return measured;
#endif
    return CpuinfoMhzAsKhz();
  }();
  return kKhz;
}

}  // namespace ktstr::vmm
