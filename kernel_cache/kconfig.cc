#include "kernel_cache/kconfig.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "kernel_cache/kconfig_fragment_data.h"

namespace ktstr::kcache {

uint32_t Crc32(absl::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; feed large inputs in chunks.
  constexpr size_t kChunk = 1u << 30;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    size_t n = std::min(kChunk, data.size() - off);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + off), static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(crc);
}

std::string Crc32Hex(absl::string_view data) { return absl::StrFormat("%08x", Crc32(data)); }

absl::StatusOr<std::string> FileCrc32Hex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  uLong crc = crc32(0L, Z_NULL, 0);
  std::string buf(1 << 20, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize n = in.gcount();
    if (n > 0) crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(n));
  }
  if (in.bad()) return absl::InternalError(absl::StrCat("read error on ", path));
  return absl::StrFormat("%08x", static_cast<uint32_t>(crc));
}

absl::string_view KtstrKconfigFragment() { return kKtstrKconfigFragment; }

std::string KtstrKconfigHash() { return Crc32Hex(KtstrKconfigFragment()); }

KconfigValues ParseKconfig(absl::string_view text) {
  KconfigValues values;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, "# CONFIG_")) {
      if (absl::ConsumeSuffix(&line, " is not set")) values[std::string(line)] = "n";
      continue;
    }
    if (!absl::ConsumePrefix(&line, "CONFIG_")) continue;
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos || eq == 0) continue;
    values[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  return values;
}

absl::StatusOr<KconfigValues> ReadKconfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read kernel config ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseKconfig(ss.str());
}

const std::vector<std::string>& RequiredOptions() {
  static const auto* options = new std::vector<std::string>{
      // ktstr's validate_kernel_config list.
      "SCHED_CLASS_EXT", "DEBUG_INFO_BTF", "BPF_SYSCALL", "FTRACE", "KPROBE_EVENTS", "BPF_EVENTS",
      // What our VMM and agent need: PVH boot, console, virtio-serial channel, initramfs.
      "BPF_JIT", "PVH", "SERIAL_8250_CONSOLE", "VIRTIO_PCI", "VIRTIO_CONSOLE", "BLK_DEV_INITRD",
      "RD_GZIP", "CGROUPS", "CPUSETS"};
  return *options;
}

std::vector<std::string> MissingRequiredOptions(const KconfigValues& values) {
  std::vector<std::string> missing;
  for (const std::string& name : RequiredOptions()) {
    auto it = values.find(name);
    if (it == values.end() || it->second != "y") missing.push_back(absl::StrCat("CONFIG_", name));
  }
  return missing;
}

std::vector<std::string> UnappliedFragmentOptions(const KconfigValues& fragment,
                                                  const KconfigValues& values) {
  std::vector<std::string> out;
  for (const auto& [name, want] : fragment) {
    auto it = values.find(name);
    std::string got = it == values.end() ? "n" : it->second;  // absent means not set
    if (got != want) out.push_back(absl::StrCat("CONFIG_", name, "=", want, " (got ", got, ")"));
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool HasSchedExt(const KconfigValues& values) {
  auto it = values.find("SCHED_CLASS_EXT");
  return it != values.end() && it->second == "y";
}

}  // namespace ktstr::kcache
