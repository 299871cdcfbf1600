#include "daemon/kernel_entry_proto.h"

namespace ktstr::daemon {

ktstr::v1::KernelSource KernelSourceToProto(kcache::KernelSource s) {
  switch (s) {
    case kcache::KernelSource::kTarball: return ktstr::v1::KERNEL_SOURCE_TARBALL;
    case kcache::KernelSource::kLocal: return ktstr::v1::KERNEL_SOURCE_LOCAL;
    case kcache::KernelSource::kDebian: return ktstr::v1::KERNEL_SOURCE_DEBIAN;
    case kcache::KernelSource::kImage: return ktstr::v1::KERNEL_SOURCE_IMAGE;
    case kcache::KernelSource::kGit: return ktstr::v1::KERNEL_SOURCE_GIT;
    case kcache::KernelSource::kDebianSource: return ktstr::v1::KERNEL_SOURCE_DEBIAN_SOURCE;
  }
  return ktstr::v1::KERNEL_SOURCE_UNSPECIFIED;
}

std::optional<kcache::KernelSource> KernelSourceFromProto(ktstr::v1::KernelSource s) {
  switch (s) {
    case ktstr::v1::KERNEL_SOURCE_TARBALL: return kcache::KernelSource::kTarball;
    case ktstr::v1::KERNEL_SOURCE_LOCAL: return kcache::KernelSource::kLocal;
    case ktstr::v1::KERNEL_SOURCE_DEBIAN: return kcache::KernelSource::kDebian;
    case ktstr::v1::KERNEL_SOURCE_IMAGE: return kcache::KernelSource::kImage;
    case ktstr::v1::KERNEL_SOURCE_GIT: return kcache::KernelSource::kGit;
    case ktstr::v1::KERNEL_SOURCE_DEBIAN_SOURCE: return kcache::KernelSource::kDebianSource;
    default: return std::nullopt;
  }
}

ktstr::v1::KernelEntry KernelEntryToProto(const kcache::CacheEntry& e, const std::string& default_key) {
  ktstr::v1::KernelEntry k;
  k.set_cache_key(e.key);
  k.set_size_bytes(e.size_bytes);
  if (!e.valid()) {
    k.set_corrupt(true);
    k.set_corrupt_reason(e.corrupt_reason);
    return k;
  }
  const kcache::KernelMetadata& m = e.metadata;
  k.set_version(m.version);
  k.set_source(KernelSourceToProto(m.source));
  k.set_arch(m.arch);
  k.set_config_hash(m.config_hash);
  k.set_kconfig_fragment_hash(m.kconfig_fragment_hash);
  k.set_created_unix_s(m.created_unix_s);
  k.set_sched_ext(m.sched_ext);
  k.set_btf(m.btf);
  k.set_has_vmlinux(m.has_vmlinux);
  k.set_stale_fragment(e.stale_fragment);
  k.set_is_default(e.key == default_key);
  return k;
}

}  // namespace ktstr::daemon
