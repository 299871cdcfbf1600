// The text of tools/ktstr.kconfig, embedded at build time (genrule in BUILD.bazel).
#ifndef KTSTR_KERNEL_CACHE_KCONFIG_FRAGMENT_DATA_H_
#define KTSTR_KERNEL_CACHE_KCONFIG_FRAGMENT_DATA_H_

namespace ktstr::kcache {
extern const char kKtstrKconfigFragment[];
}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_KCONFIG_FRAGMENT_DATA_H_
