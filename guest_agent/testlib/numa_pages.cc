#include "guest_agent/testlib/numa_pages.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace ktstr {

std::map<int, uint64_t> AnonPagesPerNode(absl::string_view numa_maps) {
  std::map<int, uint64_t> pages;
  for (absl::string_view line : absl::StrSplit(numa_maps, '\n')) {
    std::vector<absl::string_view> tokens = absl::StrSplit(line, ' ', absl::SkipEmpty());
    bool anon = false, shared = false;
    for (absl::string_view t : tokens) {
      anon = anon || absl::StartsWith(t, "anon=");
      shared = shared || absl::StartsWith(t, "mapmax=");
    }
    if (!anon || shared) continue;
    for (absl::string_view t : tokens) {
      // "N<node>=<pages>"
      if (t.size() < 4 || t[0] != 'N') continue;
      const size_t eq = t.find('=');
      int node = 0;
      uint64_t n = 0;
      if (eq == absl::string_view::npos || !absl::SimpleAtoi(t.substr(1, eq - 1), &node) ||
          !absl::SimpleAtoi(t.substr(eq + 1), &n) || node < 0) {
        continue;
      }
      pages[node] += n;
    }
  }
  return pages;
}

uint64_t NumaPagesMigrated(absl::string_view vmstat) {
  for (absl::string_view line : absl::StrSplit(vmstat, '\n')) {
    if (!absl::ConsumePrefix(&line, "numa_pages_migrated ")) continue;
    uint64_t n = 0;
    return absl::SimpleAtoi(line, &n) ? n : 0;
  }
  return 0;
}

std::set<int> MemoryOnlyNodes(const std::string& node_dir) {
  std::set<int> nodes;
  DIR* d = opendir(node_dir.c_str());
  if (d == nullptr) return nodes;
  while (struct dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    int node = 0;
    if (!absl::ConsumePrefix(&name, "node") || !absl::SimpleAtoi(name, &node)) continue;
    const std::string cpus = ReadProcText((node_dir + "/" + e->d_name + "/cpulist").c_str());
    if (absl::StripAsciiWhitespace(cpus).empty()) nodes.insert(node);
  }
  closedir(d);
  return nodes;
}

std::string ReadProcText(const char* path) {
  std::string out;
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[8192];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

}  // namespace ktstr
