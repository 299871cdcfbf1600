// `ktstr-client kernel list|import|remove|clean|build`: the daemon's kernel cache
// (build: kernel_build_command.cc).
#include <cstdio>
#include <fstream>
#include <string>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/exit_codes.h"
#include "client/kernel_upload.h"

namespace ktstr::client {
namespace {

constexpr char kUsage[] =
    "ktstr-client kernel list [--json]\n"
    "       ktstr-client kernel import PATH [--vmlinux FILE] [--config FILE] [--version V]"
    " [--default]\n"
    "       ktstr-client kernel remove KEY\n"
    "       ktstr-client kernel clean [--keep N] [--corrupt-only]\n"
    "       ktstr-client kernel build [VERSION] [--source DIR] [--force] [--clean] [-j N]"
    " [--default]\n"
    "  clean removes corrupt entries and all valid ones but the newest N (default 0); the\n"
    "  default kernel and kernels of running jobs always stay. import sends a .deb as a\n"
    "  Debian package, anything else as a kernel image; --default makes it the default.\n"
    "  build compiles on this machine with tools/ktstr.kconfig and sends the result to\n"
    "  ktstrd under its cache key (`ktstr-client kernel build --help` for details).";

int Usage() {
  fprintf(stderr, "usage: %s\n", kUsage);
  return kExitUsage;
}

// A Debian package is an ar archive; everything else is offered as a kernel image (the
// daemon decides by content and rejects what is not a kernel).
bool IsDebianPackage(const std::string& path) {
  char magic[8] = {};
  std::ifstream(path, std::ios::binary).read(magic, sizeof(magic));
  return std::string(magic, sizeof(magic)) == "!<arch>\n";
}

int List(Connection& c, const Args& args) {
  bool json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] != "--json") return Usage();
    json = true;
  }
  ktstr::v1::ListKernelsResponse resp;
  if (auto s = FromGrpc(c.stub->ListKernels(ContextWithDeadline().get(), {}, &resp)); !s.ok()) {
    return Fail(s);
  }
  if (json) {
    std::string out;
    google::protobuf::util::JsonPrintOptions jo;
    jo.add_whitespace = true;
    jo.always_print_primitive_fields = true;
    (void)google::protobuf::util::MessageToJsonString(resp, &out, jo);
    fputs(out.c_str(), stdout);
    return kExitOk;
  }
  printf("%-48s %-26s %-9s %-4s %s\n", "KEY", "VERSION", "SCHED_EXT", "BTF", "DEFAULT");
  for (const auto& k : resp.kernels()) {
    if (k.corrupt()) {
      printf("%-48s corrupt: %s\n", k.cache_key().c_str(), k.corrupt_reason().c_str());
      continue;
    }
    std::string note = k.is_default() ? "*" : "";
    if (k.stale_fragment()) note += note.empty() ? "(stale ktstr.kconfig)" : " (stale ktstr.kconfig)";
    printf("%-48s %-26s %-9s %-4s %s\n", k.cache_key().c_str(), k.version().c_str(),
           k.sched_ext() ? "yes" : "no", k.btf() ? "yes" : "no", note.c_str());
  }
  if (resp.kernels().empty()) {
    printf("(no kernels cached: run tools/setup, or `ktstr-client kernel import PATH`)\n");
  }
  return kExitOk;
}

int Import(Connection& c, const Args& args) {
  if (args.size() < 2) return Usage();
  ktstr::v1::ImportKernelRequest req;
  const std::string path = args[1];
  bool deb = IsDebianPackage(path);
  absl::StatusOr<ktstr::v1::ArtifactRef> main = UploadKernelFile(
      c, path, deb ? ktstr::v1::ARTIFACT_KIND_KERNEL_PACKAGE : ktstr::v1::ARTIFACT_KIND_KERNEL_IMAGE);
  if (!main.ok()) return Fail(main.status());
  *(deb ? req.mutable_debian_package() : req.mutable_image()) = *main;
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "--default") {
      req.set_make_default(true);
    } else if (a == "--version" && has_value) {
      req.set_version(args[++i]);
    } else if ((a == "--vmlinux" || a == "--config") && has_value) {
      absl::StatusOr<ktstr::v1::ArtifactRef> part =
          UploadKernelFile(c, args[++i], a == "--vmlinux" ? ktstr::v1::ARTIFACT_KIND_KERNEL_IMAGE
                                                         : ktstr::v1::ARTIFACT_KIND_UNSPECIFIED);
      if (!part.ok()) return Fail(part.status());
      *(a == "--vmlinux" ? req.mutable_vmlinux() : req.mutable_config()) = *part;
    } else {
      return Usage();
    }
  }
  ktstr::v1::ImportKernelResponse resp;
  if (auto s = FromGrpc(c.stub->ImportKernel(ContextWithDeadline(config::kImportDeadline).get(),
                                             req, &resp));
      !s.ok()) {
    return Fail(s);
  }
  const auto& k = resp.kernel();
  printf("%s  version %s, sched_ext %s, BTF %s%s\n", k.cache_key().c_str(), k.version().c_str(),
         k.sched_ext() ? "yes" : "no", k.btf() ? "yes" : "no", k.is_default() ? ", default" : "");
  return kExitOk;
}

int Remove(Connection& c, const Args& args) {
  if (args.size() != 2) return Usage();
  ktstr::v1::RemoveKernelRequest req;
  req.set_cache_key(args[1]);
  ktstr::v1::RemoveKernelResponse resp;
  if (auto s = FromGrpc(c.stub->RemoveKernel(ContextWithDeadline().get(), req, &resp)); !s.ok()) {
    return Fail(s);
  }
  printf("removed %s\n", args[1].c_str());
  return kExitOk;
}

int Clean(Connection& c, const Args& args) {
  ktstr::v1::CleanKernelsRequest req;
  for (size_t i = 1; i < args.size(); ++i) {
    uint32_t n;
    if (args[i] == "--corrupt-only") {
      req.set_corrupt_only(true);
    } else if (args[i] == "--keep" && i + 1 < args.size() && absl::SimpleAtoi(args[i + 1], &n)) {
      req.set_keep(n);
      ++i;
    } else {
      return Usage();
    }
  }
  ktstr::v1::CleanKernelsResponse resp;
  if (auto s = FromGrpc(c.stub->CleanKernels(ContextWithDeadline().get(), req, &resp)); !s.ok()) {
    return Fail(s);
  }
  for (const auto& k : resp.removed_keys()) printf("removed %s\n", k.c_str());
  printf("%d kernels removed (the default and kernels in use are kept)\n",
         resp.removed_keys_size());
  return kExitOk;
}

}  // namespace

int KernelCommand(const ConnectOptions& opts, const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    if (!args.empty()) {
      printf("usage: %s\n", kUsage);
      return kExitOk;
    }
    return Usage();
  }
  if (args[0] == "build") return KernelBuildCommand(opts, args);  // connects after parsing
  int (*sub)(Connection&, const Args&) = nullptr;
  if (args[0] == "list") sub = List;
  if (args[0] == "import") sub = Import;
  if (args[0] == "remove") sub = Remove;
  if (args[0] == "clean") sub = Clean;
  if (sub == nullptr) return Usage();
  absl::StatusOr<Connection> c = Connect(opts);
  if (!c.ok()) return Fail(c.status());
  return sub(*c, args);
}

}  // namespace ktstr::client
