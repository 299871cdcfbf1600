// Pure translation of a VmSpec (plus per-instance paths) into a QEMU command line.
//
// Topology mapping (QEMU 7.2, q35):
//   NUMA node   -> socket      (-smp sockets=numa_nodes; one -numa node per socket)
//   LLC         -> die         (-smp dies=llcs/numa_nodes)
//   core        -> core        (-smp cores=cores_per_llc)
//   SMT thread  -> thread      (-smp threads=threads_per_core)
// Why dies: with an Intel-vendor CPU model QEMU's CPUID leaf 4 reports the L3 as shared by
// the CPUs of one die, and leaf 0x1F describes the die level, so Linux builds one LLC per die
// (cpu*/cache/index3/shared_cpu_list) and several LLCs in one package/NUMA node. AMD-vendor
// models ignore dies (L3 per socket) and TCG lacks topoext, hence under TCG
//   -cpu qemu64,vendor=GenuineIntel,l3-cache=on
// Under KVM -cpu host is used with the same -smp: QEMU still synthesises leaves 4/0xB/0x1F
// (host-cache-info is off by default), so an Intel host sees the same mapping. On an AMD host
// the L3 follows leaf 0x8000001D, which QEMU 7.2 also derives per die.
// QEMU numbers CPUs socket-major (socket, die, core, thread) and Linux keeps that order, so
// node i owns CPUs [i*cpus_per_node, (i+1)*cpus_per_node).
#ifndef KTSTR_VMM_QEMU_ARGS_H_
#define KTSTR_VMM_QEMU_ARGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vmm/accel.h"
#include "vmm/vm_spec.h"

namespace ktstr::vmm {

// Per-instance facts the pure translation needs.
struct QemuInstance {
  Accel accel = Accel::kTcg;  // resolved: kKvm or kTcg
  std::string qmp_socket;
  std::string channel_socket;
  // One RAM file per NUMA node (RamFilePath).
  std::vector<std::string> ram_files;
  // true: MAP_SHARED (a template whose RAM is snapshotted); false: MAP_PRIVATE copy-on-write
  // of the same files (a clone).
  bool share_ram = true;
  // Start with -incoming defer (clones; the caller then sends migrate-incoming).
  bool incoming = false;
  long tsc_khz = 0;  // host TSC frequency for tsc_early_khz=; 0 leaves it out
};

// The fixed part of the guest command line (ktstr's, adapted to QEMU q35).
std::vector<std::string> FixedKernelArgs(long tsc_khz);

// argv[0] is spec.qemu_binary. Fails if the topology cannot be expressed (e.g. APIC ids
// above 254 under TCG, which has no x2APIC in QEMU 7.2).
absl::StatusOr<std::vector<std::string>> BuildQemuArgs(const VmSpec& spec,
                                                       const QemuInstance& instance);

// Highest APIC id QEMU assigns for this topology (field widths rounded up to powers of 2).
int MaxApicId(const Topology& topology);

// Host TSC in kHz, measured once per process (rdtsc against CLOCK_MONOTONIC_RAW; falls back
// to "cpu MHz" in /proc/cpuinfo). Under TCG the guest TSC runs at that rate. 0 if unknown.
long HostTscKhz();

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_QEMU_ARGS_H_
