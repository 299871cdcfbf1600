// kernel_cache types <-> ktstr.v1 kernel messages, in one place for both sides of the API:
// ktstrd lists its cache with them and ktstr-client sends a kernel it built with them.
#ifndef KTSTR_DAEMON_KERNEL_ENTRY_PROTO_H_
#define KTSTR_DAEMON_KERNEL_ENTRY_PROTO_H_

#include <optional>
#include <string>

#include "kernel_cache/kernel_cache.h"
#include "kernel_cache/metadata.h"
#include "proto/ktstr/v1/kernel.pb.h"

namespace ktstr::daemon {

ktstr::v1::KernelSource KernelSourceToProto(kcache::KernelSource s);
// nullopt for KERNEL_SOURCE_UNSPECIFIED and unknown values.
std::optional<kcache::KernelSource> KernelSourceFromProto(ktstr::v1::KernelSource s);

// A corrupt entry carries only its key, size and reason.
ktstr::v1::KernelEntry KernelEntryToProto(const kcache::CacheEntry& e,
                                          const std::string& default_key);

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_KERNEL_ENTRY_PROTO_H_
