// Kernel .config handling: CRC32 hashes (cache keys), parsing, the embedded ktstr fragment
// and the check that the options ktstr needs survived `make olddefconfig`.
#ifndef KTSTR_KERNEL_CACHE_KCONFIG_H_
#define KTSTR_KERNEL_CACHE_KCONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ktstr::kcache {

// CRC32 (zlib polynomial) of `data`, and the same as 8 lowercase hex digits.
uint32_t Crc32(absl::string_view data);
std::string Crc32Hex(absl::string_view data);
// CRC32 of a file's contents; NotFound/Internal when it cannot be read.
absl::StatusOr<std::string> FileCrc32Hex(const std::string& path);

// The embedded tools/ktstr.kconfig and its hash (the `kc` suffix of build keys).
absl::string_view KtstrKconfigFragment();
std::string KtstrKconfigHash();

// Option name without the CONFIG_ prefix -> value ("y", "m", "n" for "is not set", or the
// literal right-hand side such as "250" or "\"text\"").
using KconfigValues = absl::flat_hash_map<std::string, std::string>;
KconfigValues ParseKconfig(absl::string_view text);
absl::StatusOr<KconfigValues> ReadKconfigFile(const std::string& path);

// Options that must be `y` in a ktstr-built kernel: without them schedulers cannot load,
// probes vanish or the VM cannot talk to the host (ktstr's fragment plus our VMM's needs).
const std::vector<std::string>& RequiredOptions();
// The required options that are not `y` in `values`, in RequiredOptions() order.
std::vector<std::string> MissingRequiredOptions(const KconfigValues& values);

// Options the fragment sets (or unsets) that `values` does not honour, as "CONFIG_X=y
// (got n)": kconfig silently overrides what unmet dependencies forbid. Informational for
// the optional ones; the required ones fail the build (MissingRequiredOptions).
std::vector<std::string> UnappliedFragmentOptions(const KconfigValues& fragment,
                                                  const KconfigValues& values);

// True when CONFIG_SCHED_CLASS_EXT=y.
bool HasSchedExt(const KconfigValues& values);

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_KCONFIG_H_
