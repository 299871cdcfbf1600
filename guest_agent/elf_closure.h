// The shared-library closure of host binaries: walks PT_INTERP and DT_NEEDED (with
// DT_RUNPATH/DT_RPATH and $ORIGIN) with libelf, resolves names the way ld.so would on this
// host (RPATH, LD_LIBRARY_PATH is ignored on purpose, RUNPATH, /etc/ld.so.cache, the default
// directories), and returns every file a guest needs to run the binaries.
#ifndef KTSTR_GUEST_AGENT_ELF_CLOSURE_H_
#define KTSTR_GUEST_AGENT_ELF_CLOSURE_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace ktstr::agent {

struct ElfInfo {
  bool is_64 = true;
  uint16_t machine = 0;
  std::string interpreter;            // PT_INTERP, "" for static binaries
  std::vector<std::string> needed;    // DT_NEEDED
  std::vector<std::string> rpath;     // DT_RPATH (only honoured without DT_RUNPATH)
  std::vector<std::string> runpath;   // DT_RUNPATH
};

// Reads the dynamic-linking facts of one ELF file. NotFound / InvalidArgument ("not an ELF
// file") on bad input.
absl::StatusOr<ElfInfo> ReadElfInfo(const std::string& path);

// Parses /etc/ld.so.cache (the glibc-ld.so.cache1.1 format) into soname -> path for
// libraries of the given ELF class (x86-64 entries for 64-bit).
absl::StatusOr<absl::flat_hash_map<std::string, std::string>> ReadLdSoCache(
    const std::string& path = "/etc/ld.so.cache");

struct ClosureFile {
  std::string host_path;   // file to copy (symlinks resolved)
  std::string guest_path;  // where the guest's ld.so looks for it
};

struct ElfClosureOptions {
  std::string ld_so_cache = "/etc/ld.so.cache";
  // Searched after the cache, in order (Debian amd64's trusted directories).
  std::vector<std::string> default_dirs = {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                                           "/lib64", "/usr/lib64", "/lib", "/usr/lib"};
};

// The libraries and interpreters (not the binaries themselves) needed by `binaries`,
// deduplicated. A static binary needs nothing. A missing library is NotFound naming the
// library and the binary that needs it.
absl::StatusOr<std::vector<ClosureFile>> ElfClosure(const std::vector<std::string>& binaries,
                                                    const ElfClosureOptions& options = {});

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_ELF_CLOSURE_H_
