// Building a ktstr VM's initramfs: a base archive (the agent as /init, busybox and its applet
// links, the directory skeleton and /dev/console) built once per (agent, busybox) content and
// cached, plus a small per-VM extras archive. The kernel unpacks concatenated gzip cpio
// archives in order, so the initramfs handed to QEMU is base followed by extras.
#ifndef KTSTR_GUEST_AGENT_INITRAMFS_H_
#define KTSTR_GUEST_AGENT_INITRAMFS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ktstr::agent {

// One file for the guest: either read from `host_path` or given as `data`.
struct InitramfsFile {
  std::string guest_path;  // absolute
  std::string host_path;   // "" = use data
  std::string data;
  uint32_t mode = 0;       // 0 = the host file's permission bits (or 0644 for data)
};

struct BaseArchiveSpec {
  std::string agent_path;                 // static ktstr-agent; becomes /init
  std::string busybox_path = "/bin/busybox";  // static busybox (Debian's busybox-static)
  // Where built base archives are kept; "" = ${KTSTR_CACHE_DIR:-$HOME/.cache/ktstr}/initramfs.
  std::string cache_dir;
};

// The default cache directory for base archives.
std::string DefaultInitramfsCacheDir();

// Builds the base archive (gzip cpio) in memory.
absl::StatusOr<std::string> BuildBaseArchive(const BaseArchiveSpec& spec);

// Returns the path of the cached base archive for this content, building it if needed
// (written to a temporary file and renamed, so concurrent builders never see a partial one).
absl::StatusOr<std::string> CachedBaseArchive(const BaseArchiveSpec& spec);

// A gzip cpio archive of `files` (parent directories included).
absl::StatusOr<std::string> BuildExtrasArchive(const std::vector<InitramfsFile>& files);

// Writes base + extras to `out_path` (the file QEMU's -initrd gets).
absl::Status WriteInitramfs(const std::string& base_archive_path,
                            const std::vector<InitramfsFile>& extras, const std::string& out_path);

// The applet paths of a busybox binary ("bin/sh", "usr/bin/awk", ...), from --list-full.
absl::StatusOr<std::vector<std::string>> BusyboxApplets(const std::string& busybox_path);

// Reads a whole file.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_INITRAMFS_H_
