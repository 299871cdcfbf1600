// Where a worker's memory is (/proc/self/numa_maps) and the kernel's NUMA migration counter
// (/proc/vmstat), for ktstr's NUMA checks: page locality, cross-node migration, slow tier
// (as ktstr, the Rust original, defines them).
#ifndef KTSTR_GUEST_AGENT_TESTLIB_NUMA_PAGES_H_
#define KTSTR_GUEST_AGENT_TESTLIB_NUMA_PAGES_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/strings/string_view.h"

namespace ktstr {
namespace config {
// Node ids a worker report can carry (ktstr's VMs have at most 4 nodes; sysfs allows more).
inline constexpr int kMaxNumaNodes = 64;
}  // namespace config

// Private anonymous pages per node id, summed over the mappings numa_maps lists with an
// anon= count (heap, stack, the work's own buffers). Left out: file-backed pages (they sit
// in the page cache, shared with every process, wherever they were first read) and mappings
// with pages shared with another process (mapmax=: a worker's copy-on-write inheritance
// from the harness, placed by the harness's policy before the fork). Neither says anything
// about the worker's memory policy. Malformed tokens are skipped.
std::map<int, uint64_t> AnonPagesPerNode(absl::string_view numa_maps);

// numa_pages_migrated from /proc/vmstat text; 0 when the kernel has no such counter.
uint64_t NumaPagesMigrated(absl::string_view vmstat);

// Node ids under `node_dir` (sysfs's /sys/devices/system/node) whose cpulist is empty:
// memory-only nodes, ktstr's slow tier (CXL memory). Empty when the directory is missing.
std::set<int> MemoryOnlyNodes(const std::string& node_dir = "/sys/devices/system/node");

// The whole of a small /proc file; "" when unreadable.
std::string ReadProcText(const char* path);

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_NUMA_PAGES_H_
