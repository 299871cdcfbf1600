#include "client/kernel_upload.h"

#include <cstdio>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/upload.h"
#include "daemon/kernel_entry_proto.h"

namespace ktstr::client {

absl::StatusOr<ktstr::v1::ArtifactRef> UploadKernelFile(Connection& c, const std::string& path,
                                                        ktstr::v1::ArtifactKind kind) {
  absl::StatusOr<UploadResult> up = UploadFile(c.stub.get(), path, kind);
  if (!up.ok()) {
    return absl::Status(up.status().code(), absl::StrCat(path, ": ", up.status().message()));
  }
  return up->ref;
}

namespace {

// ktstrd's valid entry with `key`, if it has one.
absl::StatusOr<std::optional<ktstr::v1::KernelEntry>> DaemonEntry(Connection& c,
                                                                  const std::string& key) {
  ktstr::v1::ListKernelsResponse list;
  if (absl::Status s = FromGrpc(c.stub->ListKernels(ContextWithDeadline().get(), {}, &list));
      !s.ok()) {
    return s;
  }
  for (const auto& k : list.kernels()) {
    if (k.cache_key() == key && !k.corrupt()) return k;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<KernelSendResult> SendCachedKernel(Connection& c, const kcache::CacheEntry& entry,
                                                  const KernelSendOptions& options) {
  KernelSendResult result;
  absl::StatusOr<std::optional<ktstr::v1::KernelEntry>> have = DaemonEntry(c, entry.key);
  if (!have.ok()) return have.status();
  result.daemon_had_it = have->has_value();
  const kcache::KernelMetadata& m = entry.metadata;
  // A per-user ktstrd shares the user's cache directory: the entry it lists may be this very
  // one, just written by the build. Replacing it with itself would only churn.
  bool same_entry = result.daemon_had_it && (*have)->created_unix_s() == m.created_unix_s &&
                    (*have)->config_hash() == m.config_hash;
  bool replace = options.replace && result.daemon_had_it && !same_entry;
  if (result.daemon_had_it && !replace && (!options.make_default || (*have)->is_default())) {
    result.kernel = **have;
    return result;
  }
  ktstr::v1::ImportKernelRequest req;
  struct Part {
    const char* what;
    std::string path;
    ktstr::v1::ArtifactKind kind;
    ktstr::v1::ArtifactRef* ref;
  };
  std::vector<Part> parts = {{"image", entry.image_path(), ktstr::v1::ARTIFACT_KIND_KERNEL_IMAGE,
                              req.mutable_image()}};
  if (m.has_vmlinux) {
    parts.push_back({"vmlinux", entry.vmlinux_path(), ktstr::v1::ARTIFACT_KIND_KERNEL_IMAGE,
                     req.mutable_vmlinux()});
  }
  if (m.has_config) {
    parts.push_back({"config", entry.config_path(), ktstr::v1::ARTIFACT_KIND_UNSPECIFIED,
                     req.mutable_config()});
  }
  for (const Part& p : parts) {
    fprintf(stderr, "uploading %s %s\n", p.what, p.path.c_str());
    absl::StatusOr<ktstr::v1::ArtifactRef> ref = UploadKernelFile(c, p.path, p.kind);
    if (!ref.ok()) return ref.status();
    *p.ref = *ref;
  }
  req.set_cache_key(entry.key);
  req.set_version(m.version);
  req.set_source(daemon::KernelSourceToProto(m.source));
  req.set_kconfig_fragment_hash(m.kconfig_fragment_hash);
  req.set_make_default(options.make_default);
  req.set_replace(replace);
  ktstr::v1::ImportKernelResponse resp;
  if (absl::Status s = FromGrpc(
          c.stub->ImportKernel(ContextWithDeadline(config::kImportDeadline).get(), req, &resp));
      !s.ok()) {
    return s;
  }
  result.kernel = resp.kernel();
  result.sent = true;
  result.replaced = replace;
  return result;
}

}  // namespace ktstr::client
