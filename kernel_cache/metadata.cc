#include "kernel_cache/metadata.h"

#include <array>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernel_cache/flat_json.h"

namespace ktstr::kcache {
namespace {

constexpr std::array<std::pair<KernelSource, absl::string_view>, 6> kSourceNames = {{
    {KernelSource::kTarball, "tarball"},
    {KernelSource::kLocal, "local"},
    {KernelSource::kDebian, "debian"},
    {KernelSource::kImage, "image"},
    {KernelSource::kGit, "git"},
    {KernelSource::kDebianSource, "debian-source"},
}};

template <typename T>
absl::Status Get(const FlatJsonObject& obj, const char* name, T* out) {
  auto it = obj.find(name);
  if (it == obj.end()) return absl::InvalidArgumentError(absl::StrCat("missing field ", name));
  const T* v = std::get_if<T>(&it->second);
  if (v == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("field ", name, " has the wrong type"));
  *out = *v;
  return absl::OkStatus();
}

}  // namespace

absl::string_view KernelSourceName(KernelSource s) {
  for (const auto& [src, name] : kSourceNames) {
    if (src == s) return name;
  }
  return "unknown";
}

absl::StatusOr<KernelSource> ParseKernelSource(absl::string_view name) {
  for (const auto& [src, n] : kSourceNames) {
    if (n == name) return src;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown kernel source \"", name, "\""));
}

std::string KernelMetadata::DebugString() const {
  return absl::StrCat(version, " (", KernelSourceName(source), ", ", arch,
                      ", sched_ext=", sched_ext ? "yes" : "no", ", btf=", btf ? "yes" : "no",
                      ", vmlinux=", has_vmlinux ? "yes" : "no", ")");
}

std::string MetadataToJson(const KernelMetadata& m) {
  return WriteFlatJson({
      {"schema", KernelMetadata::kSchemaVersion},
      {"version", m.version},
      {"source", std::string(KernelSourceName(m.source))},
      {"source_detail", m.source_detail},
      {"git_hash", m.git_hash},
      {"arch", m.arch},
      {"image_name", m.image_name},
      {"config_hash", m.config_hash},
      {"ktstr_kconfig_hash", m.kconfig_fragment_hash},
      {"created_unix_s", m.created_unix_s},
      {"sched_ext", m.sched_ext},
      {"btf", m.btf},
      {"has_vmlinux", m.has_vmlinux},
      {"vmlinux_stripped", m.vmlinux_stripped},
      {"has_config", m.has_config},
  });
}

absl::StatusOr<KernelMetadata> MetadataFromJson(absl::string_view json) {
  absl::StatusOr<FlatJsonObject> obj = ParseFlatJson(json);
  if (!obj.ok()) return obj.status();
  int64_t schema = 0;
  if (absl::Status s = Get(*obj, "schema", &schema); !s.ok()) return s;
  if (schema != KernelMetadata::kSchemaVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("schema ", schema, ", expected ", KernelMetadata::kSchemaVersion));
  }
  KernelMetadata m;
  std::string source;
  absl::Status s;
  for (absl::Status st :
       {Get(*obj, "version", &m.version), Get(*obj, "source", &source),
        Get(*obj, "source_detail", &m.source_detail), Get(*obj, "git_hash", &m.git_hash),
        Get(*obj, "arch", &m.arch), Get(*obj, "image_name", &m.image_name),
        Get(*obj, "config_hash", &m.config_hash),
        Get(*obj, "ktstr_kconfig_hash", &m.kconfig_fragment_hash),
        Get(*obj, "created_unix_s", &m.created_unix_s), Get(*obj, "sched_ext", &m.sched_ext),
        Get(*obj, "btf", &m.btf), Get(*obj, "has_vmlinux", &m.has_vmlinux),
        Get(*obj, "vmlinux_stripped", &m.vmlinux_stripped),
        Get(*obj, "has_config", &m.has_config)}) {
    if (!st.ok()) return st;
  }
  absl::StatusOr<KernelSource> src = ParseKernelSource(source);
  if (!src.ok()) return src.status();
  m.source = *src;
  if (m.version.empty()) return absl::InvalidArgumentError("empty version");
  if (m.image_name.empty() || m.image_name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError("bad image_name");
  }
  return m;
}

}  // namespace ktstr::kcache
