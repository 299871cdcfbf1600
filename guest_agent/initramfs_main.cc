// ktstr-initramfs: builds a ktstr guest initramfs from the command line (the daemon uses the
// same code through initramfs.h). The base archive is cached per (agent, busybox) content.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "guest_agent/elf_closure.h"
#include "guest_agent/initramfs.h"

namespace {

constexpr char kUsage[] = R"(ktstr-initramfs: build a ktstr guest initramfs (gzip cpio newc)

Usage: ktstr-initramfs --agent=PATH --out=PATH [--busybox=PATH] [--cache-dir=DIR]
                       [--add=HOST[:GUEST]]... [--with-libs]

  --agent=PATH      the static ktstr-agent (becomes /init)
  --busybox=PATH    static busybox (default /bin/busybox, Debian's busybox-static)
  --cache-dir=DIR   where base archives are cached (default $KTSTR_CACHE_DIR/initramfs or
                    ~/.cache/ktstr/initramfs)
  --add=HOST[:GUEST]  also pack the host file HOST at GUEST (default: the same path)
  --with-libs       pack the shared-library closure (DT_NEEDED, PT_INTERP) of every --add
  --out=PATH        the initramfs to write (base archive followed by the extras)
  --print-base      only build/find the cached base archive and print its path
  --help            this text
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace ktstr::agent;
  BaseArchiveSpec base;
  std::string out;
  bool with_libs = false, print_base = false;
  std::vector<InitramfsFile> extras;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](absl::string_view flag) { return a.substr(flag.size()); };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (absl::StartsWith(a, "--agent=")) {
      base.agent_path = value("--agent=");
    } else if (absl::StartsWith(a, "--busybox=")) {
      base.busybox_path = value("--busybox=");
    } else if (absl::StartsWith(a, "--cache-dir=")) {
      base.cache_dir = value("--cache-dir=");
    } else if (absl::StartsWith(a, "--out=")) {
      out = value("--out=");
    } else if (absl::StartsWith(a, "--add=")) {
      std::string spec = value("--add=");
      size_t colon = spec.find(':');
      InitramfsFile f;
      f.host_path = spec.substr(0, colon);
      f.guest_path = colon == std::string::npos ? f.host_path : spec.substr(colon + 1);
      extras.push_back(f);
    } else if (a == "--with-libs") {
      with_libs = true;
    } else if (a == "--print-base") {
      print_base = true;
    } else {
      std::fprintf(stderr, "ktstr-initramfs: unknown argument %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (base.agent_path.empty() || (out.empty() && !print_base)) {
    std::fprintf(stderr, "ktstr-initramfs: --agent and --out are required (see --help)\n");
    return 2;
  }
  auto base_path = CachedBaseArchive(base);
  if (!base_path.ok()) {
    std::fprintf(stderr, "ktstr-initramfs: %s\n", std::string(base_path.status().message()).c_str());
    return 1;
  }
  if (print_base) {
    std::printf("%s\n", base_path->c_str());
    return 0;
  }
  if (with_libs && !extras.empty()) {
    std::vector<std::string> bins;
    for (const auto& f : extras) bins.push_back(f.host_path);
    auto closure = ElfClosure(bins);
    if (!closure.ok()) {
      std::fprintf(stderr, "ktstr-initramfs: %s\n", std::string(closure.status().message()).c_str());
      return 1;
    }
    for (const ClosureFile& c : *closure) extras.push_back({c.guest_path, c.host_path, "", 0});
  }
  if (absl::Status s = WriteInitramfs(*base_path, extras, out); !s.ok()) {
    std::fprintf(stderr, "ktstr-initramfs: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("%s (base %s + %zu extra files)\n", out.c_str(), base_path->c_str(), extras.size());
  return 0;
}
