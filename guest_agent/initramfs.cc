#include "guest_agent/initramfs.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "guest_agent/cpio.h"
#include "guest_agent/files.h"

namespace ktstr::agent {
namespace {

// Bump when the base layout changes, so old cached archives are not reused.
constexpr char kBaseFormat[] = "ktstr-initramfs-base-v1";

// Directories every guest needs before the agent mounts anything on them.
constexpr const char* kSkeletonDirs[] = {"proc", "sys", "dev", "tmp", "root", "etc",
                                         "run", "var", "mnt", "bin", "sbin", "usr/bin", "usr/sbin"};

uint64_t Fnv1a64(absl::string_view data, uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

absl::StatusOr<uint32_t> HostMode(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return absl::NotFoundError(absl::StrCat("stat ", path, ": ", std::strerror(errno)));
  return static_cast<uint32_t>(st.st_mode & 07777);
}

absl::Status WriteAtomically(const std::string& path, absl::string_view data) {
  if (absl::Status s = MakeParentDirs(path); !s.ok()) return s;
  std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("rename ", tmp, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string DefaultInitramfsCacheDir() {
  const char* c = std::getenv("KTSTR_CACHE_DIR");
  if (c && *c) return absl::StrCat(c, "/initramfs");
  const char* home = std::getenv("HOME");
  return absl::StrCat(home && *home ? home : "/tmp", "/.cache/ktstr/initramfs");
}

absl::StatusOr<std::vector<std::string>> BusyboxApplets(const std::string& busybox_path) {
  if (::access(busybox_path.c_str(), X_OK) != 0)
    return absl::NotFoundError(absl::StrCat(busybox_path, " is not an executable (install busybox-static)"));
  std::string cmd = absl::StrCat("'", busybox_path, "' --list-full");
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return absl::InternalError(absl::StrCat("popen: ", std::strerror(errno)));
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = ::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  if (rc != 0) return absl::InternalError(absl::StrCat(cmd, " failed (status ", rc, ")"));
  std::vector<std::string> applets;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipWhitespace())) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.find("..") != absl::string_view::npos) continue;
    // /init is the agent; busybox's init and linuxrc must not pose as it.
    if (line == "sbin/init" || line == "linuxrc" || line == "init") continue;
    applets.emplace_back(line);
  }
  if (applets.empty()) return absl::InternalError(absl::StrCat(busybox_path, " lists no applets"));
  return applets;
}

absl::StatusOr<std::string> BuildBaseArchive(const BaseArchiveSpec& spec) {
  auto agent = ReadWholeFile(spec.agent_path);
  if (!agent.ok()) return agent.status();
  auto busybox = ReadWholeFile(spec.busybox_path);
  if (!busybox.ok()) return busybox.status();
  auto applets = BusyboxApplets(spec.busybox_path);
  if (!applets.ok()) return applets.status();

  CpioWriter w;
  for (const char* d : kSkeletonDirs) w.AddDirectory(d);
  w.AddDirectory("tmp", 01777);
  w.AddDirectory("root", 0700);
  // Without dev/console the kernel starts /init with no stdin/stdout/stderr.
  w.AddCharDevice("dev/console", 5, 1, 0600);
  w.AddFile("init", *agent, 0755);
  w.AddFile("bin/busybox", *busybox, 0755);
  for (const std::string& a : *applets) {
    if (a == "bin/busybox") continue;
    w.AddSymlink(a, "/bin/busybox");
  }
  w.AddFile("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644);
  w.AddFile("etc/group", "root:x:0:\n", 0644);
  return Gzip(w.Finish());
}

absl::StatusOr<std::string> CachedBaseArchive(const BaseArchiveSpec& spec) {
  auto agent = ReadWholeFile(spec.agent_path);
  if (!agent.ok()) return agent.status();
  auto busybox = ReadWholeFile(spec.busybox_path);
  if (!busybox.ok()) return busybox.status();
  uint64_t h = Fnv1a64(kBaseFormat);
  h = Fnv1a64(absl::StrCat(agent->size(), ":"), h);
  h = Fnv1a64(*agent, h);
  h = Fnv1a64(absl::StrCat(busybox->size(), ":"), h);
  h = Fnv1a64(*busybox, h);
  const std::string dir = spec.cache_dir.empty() ? DefaultInitramfsCacheDir() : spec.cache_dir;
  const std::string path = absl::StrFormat("%s/base-%016x.cpio.gz", dir, h);
  if (::access(path.c_str(), R_OK) == 0) return path;
  auto archive = BuildBaseArchive(spec);
  if (!archive.ok()) return archive.status();
  if (absl::Status s = WriteAtomically(path, *archive); !s.ok()) return s;
  return path;
}

absl::StatusOr<std::string> BuildExtrasArchive(const std::vector<InitramfsFile>& files) {
  CpioWriter w;
  for (const InitramfsFile& f : files) {
    if (f.guest_path.empty() || f.guest_path[0] != '/')
      return absl::InvalidArgumentError(absl::StrCat("guest path must be absolute: ", f.guest_path));
    uint32_t mode = f.mode;
    std::string data = f.data;
    if (!f.host_path.empty()) {
      auto d = ReadWholeFile(f.host_path);
      if (!d.ok()) return d.status();
      data = std::move(*d);
      if (mode == 0) {
        auto m = HostMode(f.host_path);
        if (!m.ok()) return m.status();
        mode = *m;
      }
    }
    w.AddFile(f.guest_path, data, mode == 0 ? 0644 : mode);
  }
  return Gzip(w.Finish());
}

absl::Status WriteInitramfs(const std::string& base_archive_path,
                            const std::vector<InitramfsFile>& extras, const std::string& out_path) {
  auto base = ReadWholeFile(base_archive_path);
  if (!base.ok()) return base.status();
  std::string all = std::move(*base);
  if (!extras.empty()) {
    auto ex = BuildExtrasArchive(extras);
    if (!ex.ok()) return ex.status();
    all += *ex;
  }
  return WriteAtomically(out_path, all);
}

}  // namespace ktstr::agent
