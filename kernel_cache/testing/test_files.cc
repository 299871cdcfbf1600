#include "kernel_cache/testing/test_files.h"

#include <elf.h>
#include <stdlib.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ktstr::kcache::testing {

std::string NewTempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(base ? base : "/tmp", "/kc_XXXXXX");
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

std::string MakeElf(const std::vector<std::pair<std::string, std::string>>& sections) {
  std::string shstrtab(1, '\0');
  std::vector<uint32_t> name_offsets;
  for (const auto& [name, _] : sections) {
    name_offsets.push_back(static_cast<uint32_t>(shstrtab.size()));
    shstrtab += name + '\0';
  }
  uint32_t shstrtab_name = static_cast<uint32_t>(shstrtab.size());
  shstrtab += std::string(".shstrtab") + '\0';

  std::string body;                  // section contents after the ELF header
  std::vector<Elf64_Shdr> shdrs(1);  // index 0: null
  for (size_t i = 0; i < sections.size(); ++i) {
    Elf64_Shdr s{};
    s.sh_name = name_offsets[i];
    s.sh_type = SHT_PROGBITS;
    s.sh_offset = sizeof(Elf64_Ehdr) + body.size();
    s.sh_size = sections[i].second.size();
    s.sh_addralign = 1;
    body += sections[i].second;
    shdrs.push_back(s);
  }
  Elf64_Shdr strs{};
  strs.sh_name = shstrtab_name;
  strs.sh_type = SHT_STRTAB;
  strs.sh_offset = sizeof(Elf64_Ehdr) + body.size();
  strs.sh_size = shstrtab.size();
  strs.sh_addralign = 1;
  body += shstrtab;
  shdrs.push_back(strs);
  while (body.size() % 8) body.push_back('\0');

  Elf64_Ehdr h{};
  std::memcpy(h.e_ident, ELFMAG, SELFMAG);
  h.e_ident[EI_CLASS] = ELFCLASS64;
  h.e_ident[EI_DATA] = ELFDATA2LSB;
  h.e_ident[EI_VERSION] = EV_CURRENT;
  h.e_type = ET_EXEC;
  h.e_machine = EM_X86_64;
  h.e_version = EV_CURRENT;
  h.e_ehsize = sizeof(Elf64_Ehdr);
  h.e_shentsize = sizeof(Elf64_Shdr);
  h.e_shnum = static_cast<uint16_t>(shdrs.size());
  h.e_shstrndx = static_cast<uint16_t>(shdrs.size() - 1);
  h.e_shoff = sizeof(Elf64_Ehdr) + body.size();
  std::string out(reinterpret_cast<const char*>(&h), sizeof(h));
  out += body;
  out.append(reinterpret_cast<const char*>(shdrs.data()), shdrs.size() * sizeof(Elf64_Shdr));
  return out;
}

namespace {
std::string Gzip(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}
}  // namespace

std::string MakeBzImage(const std::string& release, const std::string& payload) {
  std::string img(0x400, '\0');
  std::memcpy(&img[0x202], "HdrS", 4);
  const uint16_t version_ptr = 0x100;  // string at 0x200 + 0x100
  img[0x20e] = static_cast<char>(version_ptr & 0xff);
  img[0x20f] = static_cast<char>(version_ptr >> 8);
  std::string banner = absl::StrCat(release, " (test@host) #1 SMP");
  std::memcpy(&img[0x300], banner.data(), banner.size());
  return img + Gzip(payload) + std::string(64, '\0');
}

CacheEntry StoreTestEntry(const KernelCache& cache, const std::string& key,
                          const std::string& version, int64_t created_unix_s,
                          const std::string& fragment_hash, bool sched_ext) {
  std::string dir = NewTempDir();
  WriteFile(dir + "/bzImage", MakeBzImage(version, "payload"));
  WriteFile(dir + "/config",
            sched_ext ? "CONFIG_SCHED_CLASS_EXT=y\n" : "# CONFIG_SCHED_CLASS_EXT is not set\n");
  KernelMetadata m;
  m.version = version;
  m.source = KernelSource::kImage;
  m.arch = "x86_64";
  m.kconfig_fragment_hash = fragment_hash;
  m.created_unix_s = created_unix_s;
  m.sched_ext = sched_ext;
  absl::StatusOr<CacheEntry> e = cache.Store(key, {dir + "/bzImage", "", dir + "/config"}, m);
  EXPECT_TRUE(e.ok()) << e.status();
  std::filesystem::remove_all(dir);
  return e.ok() ? *e : CacheEntry{};
}

}  // namespace ktstr::kcache::testing
