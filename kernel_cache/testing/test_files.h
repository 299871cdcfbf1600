// Small, real kernel-shaped files for tests: a bzImage setup header with a version string
// and a gzip payload, and minimal ELF64 files with chosen sections (.BTF, .debug_info).
#ifndef KTSTR_KERNEL_CACHE_TESTING_TEST_FILES_H_
#define KTSTR_KERNEL_CACHE_TESTING_TEST_FILES_H_

#include <string>
#include <utility>
#include <vector>

#include "kernel_cache/kernel_cache.h"

namespace ktstr::kcache::testing {

// A unique empty directory under TEST_TMPDIR (or /tmp), removed by the test framework.
std::string NewTempDir();

// Writes `content`, creating parent directories.
void WriteFile(const std::string& path, const std::string& content);

// A minimal ELF64 (x86-64, ET_EXEC) with the given (name, content) sections plus .shstrtab.
std::string MakeElf(const std::vector<std::pair<std::string, std::string>>& sections);

// A bzImage-shaped file: setup header ("HdrS", kernel_version "<release> (test@host) #1")
// followed by `payload` gzip-compressed (use MakeElf for an extractable vmlinux).
std::string MakeBzImage(const std::string& release, const std::string& payload);

// Stores a small valid entry directly (image + optional ELF vmlinux + config text).
CacheEntry StoreTestEntry(const KernelCache& cache, const std::string& key,
                          const std::string& version, int64_t created_unix_s,
                          const std::string& fragment_hash = "", bool sched_ext = true);

}  // namespace ktstr::kcache::testing

#endif  // KTSTR_KERNEL_CACHE_TESTING_TEST_FILES_H_
