#include "daemon/kernel_import_request.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace ktstr::daemon {
namespace {

absl::StatusOr<std::string> ArtifactPath(const ArtifactStore& artifacts,
                                         const ktstr::v1::ArtifactRef& ref,
                                         const char* what) {
  absl::StatusOr<std::string> p = artifacts.VerifiedPath(ref.sha256());
  if (!p.ok()) {
    return absl::Status(p.status().code(), absl::StrCat(what, ": ", p.status().message(),
                                                        " (upload it first: UploadArtifact)"));
  }
  return p;
}

}  // namespace

absl::StatusOr<KernelImport> KernelImportFromRequest(const ktstr::v1::ImportKernelRequest& req,
                                                     const ArtifactStore& artifacts,
                                                     bool caller_privileged) {
  KernelImport k;
  k.version = req.version();
  k.cache_key = req.cache_key();
  k.source = req.source();
  k.kconfig_fragment_hash = req.kconfig_fragment_hash();
  k.make_default = req.make_default();
  k.replace = req.replace();
  bool parts = req.has_vmlinux() || req.has_config() || !req.cache_key().empty();
  if (req.replace() && req.cache_key().empty()) {
    return absl::InvalidArgumentError("replace names an entry: it needs cache_key");
  }
  switch (req.from_case()) {
    case ktstr::v1::ImportKernelRequest::kImage: {
      absl::StatusOr<std::string> p = ArtifactPath(artifacts, req.image(), "kernel image");
      if (!p.ok()) return p.status();
      k.path = *p;
      if (req.has_vmlinux()) {
        absl::StatusOr<std::string> v = ArtifactPath(artifacts, req.vmlinux(), "vmlinux");
        if (!v.ok()) return v.status();
        k.vmlinux_path = *v;
      }
      if (req.has_config()) {
        absl::StatusOr<std::string> c = ArtifactPath(artifacts, req.config(), "config");
        if (!c.ok()) return c.status();
        k.config_path = *c;
      }
      return k;
    }
    case ktstr::v1::ImportKernelRequest::kDebianPackage: {
      if (parts) {
        return absl::InvalidArgumentError(
            "vmlinux, config and cache_key go only with `image`, not a Debian package");
      }
      absl::StatusOr<std::string> p =
          ArtifactPath(artifacts, req.debian_package(), "Debian package");
      if (!p.ok()) return p.status();
      k.path = *p;
      return k;
    }
    case ktstr::v1::ImportKernelRequest::kHostPath:
      if (!caller_privileged) {
        return absl::PermissionDeniedError(
            "importing from a path on the daemon's host: root or ktstrd's user only; upload "
            "the file instead (`ktstr-client kernel import PATH` does)");
      }
      if (parts) {
        return absl::InvalidArgumentError(
            "vmlinux, config and cache_key go only with `image`, not a host path");
      }
      if (req.host_path().empty() || req.host_path()[0] != '/') {
        return absl::InvalidArgumentError(
            absl::StrCat("host_path must be absolute: '", req.host_path(), "'"));
      }
      k.path = req.host_path();
      return k;
    default:
      return absl::InvalidArgumentError(
          "ImportKernel needs one of image, debian_package or host_path");
  }
}

}  // namespace ktstr::daemon
