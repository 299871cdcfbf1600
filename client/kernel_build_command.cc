// `ktstr-client kernel build [VERSION] [--source DIR] ...`: builds where the source is (on
// the client, as the user who can read the tree) into the user's kernel cache, then sends
// the cached kernel to ktstrd as content-addressed artifacts under the same cache key, so a
// daemon running as another user never reads users' trees and one key names one kernel on
// both sides.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/exit_codes.h"
#include "client/kernel_upload.h"
#include "kernel_cache/build_progress_printer.h"
#include "kernel_cache/cache_layout.h"
#include "kernel_cache/env.h"
#include "kernel_cache/kernel_builder.h"
#include "kernel_cache/kernel_cache.h"
#include "kernel_cache/kernel_source.h"
#include "kernel_cache/subprocess.h"

namespace ktstr::client {
namespace {

constexpr char kUsage[] =
    "ktstr-client kernel build [VERSION] [--source DIR] [--force] [--clean] [-j N] [--default]\n"
    "  Builds a kernel with tools/ktstr.kconfig on this machine and adds it to ktstrd's cache.\n"
    "  VERSION (X.Y or X.Y.Z): Debian's linux-source-X.Y package, else the kernel.org tarball.\n"
    "  --source DIR: a kernel tree (default ./linux). No .config: make defconfig first; the\n"
    "    fragment is appended, make olddefconfig, the required options are checked, make -jN.\n"
    "    A tree with uncommitted changes is built in place but not cached or sent.\n"
    "  --force    rebuild even when cached, and replace ktstrd's entry of the same key\n"
    "  --clean    make mrproper first (drops the tree's .config)\n"
    "  -j N       parallel make jobs (default: all CPUs)\n"
    "  --default  make it the kernel tests use when they name none\n"
    "  The build lands in ${KTSTR_CACHE_DIR:-~/.cache/ktstr}/kernels first (unpacked sources in\n"
    "  .../build/, make's log kept there on failure); progress goes to stderr.";

int Usage(const std::string& why) {
  fprintf(stderr, "ktstr-client kernel build: %s\nusage: %s\n", why.c_str(), kUsage);
  return kExitUsage;
}

struct BuildArgs {
  std::string version;
  kcache::BuildOptions build;
  bool make_default = false;
};

// Empty on success, else what is wrong with the arguments.
std::string ParseBuildArgs(const Args& args, BuildArgs* out) {
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "--force") {
      out->build.force = true;
    } else if (a == "--clean") {
      out->build.clean = true;
    } else if (a == "--default") {
      out->make_default = true;
    } else if (a == "--source" && has_value) {
      out->build.source_dir = args[++i];
    } else if (a == "-j" && has_value) {
      if (!absl::SimpleAtoi(args[++i], &out->build.jobs) || out->build.jobs < 1) {
        return absl::StrCat("-j wants a positive number, got '", args[i], "'");
      }
    } else if (!a.empty() && a[0] == '-') {
      return absl::StrCat("unknown or incomplete option ", a);
    } else if (out->version.empty()) {
      out->version = a;
    } else {
      return absl::StrCat("one VERSION at most (got '", out->version, "' and '", a, "')");
    }
  }
  if (!out->version.empty() && !out->build.source_dir.empty()) {
    return "give VERSION or --source, not both";
  }
  return "";
}

std::string Seconds(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Seconds(1)));
}

}  // namespace

int KernelBuildCommand(const ConnectOptions& opts, const Args& args) {
  if (args.size() > 1 && (args[1] == "--help" || args[1] == "-h")) {
    printf("usage: %s\n", kUsage);
    return kExitOk;
  }
  BuildArgs b;
  if (std::string why = ParseBuildArgs(args, &b); !why.empty()) return Usage(why);
  // Reach the daemon before a build that can take most of an hour, not after it.
  absl::StatusOr<Connection> c = Connect(opts);
  if (!c.ok()) return Fail(c.status());
  absl::StatusOr<std::string> ktstr_dir = kcache::KtstrCacheDir(kcache::RealEnv());
  if (!ktstr_dir.ok()) return Fail(ktstr_dir.status());
  absl::StatusOr<std::unique_ptr<kcache::KernelCache>> cache =
      kcache::KernelCache::Open(absl::StrCat(*ktstr_dir, "/kernels"));
  if (!cache.ok()) return Fail(cache.status());

  kcache::ForwardTerminationSignalsToChildren();  // Ctrl-C stops make too
  b.build.progress = kcache::StderrBuildProgressPrinter();
  absl::StatusOr<kcache::BuildResult> r;
  if (!b.version.empty()) {
    fprintf(stderr, "building %s into %s/kernels\n", b.version.c_str(), ktstr_dir->c_str());
    r = kcache::BuildVersion(**cache, b.version, *ktstr_dir, b.build);
  } else {
    if (b.build.source_dir.empty()) b.build.source_dir = "linux";
    fprintf(stderr, "building %s into %s/kernels\n", b.build.source_dir.c_str(),
            ktstr_dir->c_str());
    r = kcache::BuildSourceTree(**cache, b.build);
  }
  if (!r.ok()) return Fail(r.status());
  if (!r->stored) {
    printf("built in %s, not cached: %s\n  image %s\n  not sent to ktstrd: commit the tree to "
           "cache it, or send this build as is with `ktstr-client kernel import %s --vmlinux "
           "%s/vmlinux --config %s/.config`\n",
           Seconds(r->elapsed).c_str(), r->not_stored_reason.c_str(), r->image_path.c_str(),
           r->image_path.c_str(), b.build.source_dir.c_str(), b.build.source_dir.c_str());
    return kExitOk;
  }
  std::string what =
      r->cache_hit ? "cached locally:" : absl::StrCat("built in ", Seconds(r->elapsed), ":");
  printf("%s %s\n", what.c_str(), r->entry.key.c_str());
  KernelSendOptions send;
  send.make_default = b.make_default;
  send.replace = b.build.force && !r->cache_hit;
  absl::StatusOr<KernelSendResult> sent = SendCachedKernel(*c, r->entry, send);
  if (!sent.ok()) {
    return Fail(absl::Status(sent.status().code(),
                             absl::StrCat("built and cached locally as ", r->entry.key,
                                          ", but ktstrd did not take it: ",
                                          sent.status().message())));
  }
  const auto& k = sent->kernel;
  const char* outcome = !sent->sent       ? "ktstrd already has"
                        : sent->replaced  ? "replaced in ktstrd:"
                        : sent->daemon_had_it ? "made default in ktstrd:"
                                              : "sent to ktstrd:";
  printf("%s %s  version %s, sched_ext %s, BTF %s%s\n", outcome, k.cache_key().c_str(),
         k.version().c_str(), k.sched_ext() ? "yes" : "no", k.btf() ? "yes" : "no",
         k.is_default() ? ", default" : "");
  return kExitOk;
}

}  // namespace ktstr::client
