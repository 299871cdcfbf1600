#include "kernel_cache/kernel_image.h"

#include "gtest/gtest.h"
#include "kernel_cache/cache_key.h"
#include "kernel_cache/fs_util.h"
#include "kernel_cache/importer.h"
#include "kernel_cache/kconfig.h"
#include "kernel_cache/subprocess.h"
#include "kernel_cache/testing/test_files.h"

namespace ktstr::kcache {
namespace {

using testing::MakeBzImage;
using testing::MakeElf;
using testing::NewTempDir;
using testing::WriteFile;

TEST(KernelImageTest, SniffsByContentNotName) {
  std::string d = NewTempDir();
  WriteFile(d + "/a", MakeBzImage("6.1.0", "x"));
  WriteFile(d + "/b", MakeElf({{".text", "x"}}));
  WriteFile(d + "/c",
            "!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n");
  WriteFile(d + "/d.deb", "just text");
  EXPECT_EQ(SniffFileKind(d + "/a"), FileKind::kBzImage);
  EXPECT_EQ(SniffFileKind(d + "/b"), FileKind::kElf);
  EXPECT_EQ(SniffFileKind(d + "/c"), FileKind::kDebPackage);
  EXPECT_EQ(SniffFileKind(d + "/d.deb"), FileKind::kUnknown);
  EXPECT_EQ(SniffFileKind(d + "/missing"), FileKind::kUnknown);
}

TEST(KernelImageTest, ReadsReleaseFromBzImageHeaderAndElfBanner) {
  std::string d = NewTempDir();
  WriteFile(d + "/bz", MakeBzImage("6.14.2-ktstr", "x"));
  EXPECT_EQ(*BzImageRelease(d + "/bz"), "6.14.2-ktstr");
  WriteFile(d + "/elf",
            MakeElf({{".rodata",
                      std::string("Linux version %s\0Linux version 7.3.4+deb13 (x@y) #1\n", 52)}}));
  EXPECT_EQ(*ElfKernelRelease(d + "/elf"), "7.3.4+deb13");
  WriteFile(d + "/nobanner", MakeElf({{".rodata", "nothing"}}));
  EXPECT_TRUE(absl::IsNotFound(ElfKernelRelease(d + "/nobanner").status()));
  EXPECT_FALSE(BzImageRelease(d + "/elf").ok());
}

TEST(KernelImageTest, ListsElfSectionsAndRejectsNonElf) {
  std::string d = NewTempDir();
  WriteFile(d + "/elf", MakeElf({{".BTF", "b"}, {".debug_info", "d"}}));
  absl::StatusOr<std::vector<ElfSection>> s = ReadElfSections(d + "/elf");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(HasSection(*s, ".BTF"));
  EXPECT_TRUE(HasDwarf(*s));
  EXPECT_FALSE(HasSection(*s, ".symtab"));
  WriteFile(d + "/txt", "hello");
  EXPECT_TRUE(absl::IsInvalidArgument(ReadElfSections(d + "/txt").status()));
  std::string truncated = MakeElf({{".BTF", "b"}});
  WriteFile(d + "/trunc", truncated.substr(0, truncated.size() - 10));
  EXPECT_FALSE(ReadElfSections(d + "/trunc").ok());
}

TEST(KernelImageTest, ExtractsTheElfPayloadOfABzImage) {
  std::string d = NewTempDir();
  std::string elf = MakeElf({{".text", std::string(1000, 'x')}, {".BTF", "btf"}});
  WriteFile(d + "/bz", MakeBzImage("6.1.0", elf));
  ASSERT_TRUE(ExtractVmlinux(d + "/bz", d + "/vmlinux").ok());
  EXPECT_EQ(*ReadFileToString(d + "/vmlinux"), elf);
  WriteFile(d + "/bz2", MakeBzImage("6.1.0", "not an elf"));
  EXPECT_TRUE(absl::IsNotFound(ExtractVmlinux(d + "/bz2", d + "/v2")));
  EXPECT_FALSE(PathExists(d + "/v2"));
}

TEST(KernelImageTest, StripDropsDwarfKeepsBtfAndCopiesWhenNothingToStrip) {
  std::string d = NewTempDir();
  WriteFile(
      d + "/in",
      MakeElf({{".BTF", "btf"}, {".debug_info", std::string(5000, 'd')}, {".debug_line", "l"}}));
  absl::StatusOr<bool> stripped = CopyStrippedVmlinux(d + "/in", d + "/out");
  ASSERT_TRUE(stripped.ok()) << stripped.status();
  EXPECT_TRUE(*stripped);
  absl::StatusOr<std::vector<ElfSection>> s = ReadElfSections(d + "/out");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(HasSection(*s, ".BTF"));
  EXPECT_FALSE(HasDwarf(*s));

  WriteFile(d + "/plain", MakeElf({{".BTF", "btf"}}));
  stripped = CopyStrippedVmlinux(d + "/plain", d + "/plain.out");
  ASSERT_TRUE(stripped.ok());
  EXPECT_FALSE(*stripped);
  EXPECT_EQ(*ReadFileToString(d + "/plain.out"), *ReadFileToString(d + "/plain"));
}

TEST(KernelImageTest, SchedExtFromBtfTypeNames) {
  std::string d = NewTempDir();
  WriteFile(d + "/scx", MakeElf({{".BTF", std::string("\0task_struct\0sched_ext_ops\0", 27)}}));
  WriteFile(d + "/noscx", MakeElf({{".BTF", std::string("\0task_struct\0sched_ext_opsx\0", 28)}}));
  WriteFile(d + "/nobtf", MakeElf({{".text", "x"}}));
  EXPECT_TRUE(*BtfHasSchedExt(d + "/scx"));
  EXPECT_FALSE(*BtfHasSchedExt(d + "/noscx"));
  EXPECT_FALSE(*BtfHasSchedExt(d + "/nobtf"));
}

// Import of small synthetic images: version detection, key, sched_ext from BTF, idempotence.
TEST(ImporterTest, ImportsBzImageExtractingVmlinuxAndIsIdempotent) {
  std::string d = NewTempDir();
  auto cache = KernelCache::Open(d + "/kernels", "0000f00d");
  ASSERT_TRUE(cache.ok());
  std::string elf = MakeElf({{".BTF", std::string("\0sched_ext_ops\0", 15)}});
  WriteFile(d + "/bzImage", MakeBzImage("6.14.2", elf));
  absl::StatusOr<ImportResult> r = ImportPath(**cache, d + "/bzImage", {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->already_cached);
  EXPECT_EQ(r->entry.metadata.version, "6.14.2");
  EXPECT_EQ(r->entry.metadata.source, KernelSource::kImage);
  EXPECT_TRUE(r->entry.metadata.has_vmlinux);
  EXPECT_TRUE(r->entry.metadata.btf);
  EXPECT_TRUE(r->entry.metadata.sched_ext);
  EXPECT_EQ(r->entry.metadata.kconfig_fragment_hash, "");
  EXPECT_EQ(r->entry.key.rfind("6.14.2-image-", 0), 0u) << r->entry.key;
  absl::StatusOr<ImportResult> again = ImportPath(**cache, d + "/bzImage", {});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_cached);
  EXPECT_EQ(again->entry.key, r->entry.key);
}

// An older-style linux-image-<rel> package (boot/vmlinuz-<rel>, boot/config-<rel>), built
// with the real dpkg-deb from small synthetic files.
TEST(ImporterTest, ImportsALinuxImageDebWithBootLayout) {
  std::string d = NewTempDir();
  const std::string rel = "6.1.0-99-amd64";
  WriteFile(d + "/pkg/DEBIAN/control",
            "Package: linux-image-6.1.0-99-amd64\nVersion: 1\nArchitecture: amd64\n"
            "Maintainer: t <t@t>\nDescription: test\n");
  WriteFile(d + "/pkg/boot/vmlinuz-" + rel, MakeBzImage(rel, MakeElf({{".BTF", "b"}})));
  WriteFile(d + "/pkg/boot/config-" + rel, "CONFIG_SCHED_CLASS_EXT=y\n");
  ASSERT_TRUE(
      RunCommandOk({"dpkg-deb", "--root-owner-group", "-b", d + "/pkg", d + "/img.deb"}).ok());
  auto cache = KernelCache::Open(d + "/kernels", "0000f00d");
  ASSERT_TRUE(cache.ok());
  ImportOptions o;
  o.scratch_parent = d;
  absl::StatusOr<ImportResult> r = ImportPath(**cache, d + "/img.deb", o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->entry.metadata.version, rel);
  EXPECT_EQ(r->entry.metadata.source, KernelSource::kDebian);
  EXPECT_EQ(r->entry.metadata.source_detail, "img.deb");
  EXPECT_TRUE(r->entry.metadata.sched_ext);
  EXPECT_TRUE(r->entry.metadata.has_vmlinux);
  EXPECT_EQ(r->entry.key, DebianKey(rel, HostArch(), Crc32Hex("CONFIG_SCHED_CLASS_EXT=y\n")));
}

// A kernel the client built and cached, uploaded as artifacts: the daemon keeps its identity.
TEST(ImporterTest, ClientBuiltKernelKeepsItsKeySourceAndFragment) {
  std::string d = NewTempDir();
  auto cache = KernelCache::Open(d + "/kernels", "0000f00d");
  ASSERT_TRUE(cache.ok());
  // Artifacts are stored under their digest: no names to go by.
  WriteFile(d + "/sha-image", MakeBzImage("6.99.0", "x"));
  WriteFile(d + "/sha-vmlinux", MakeElf({{".BTF", "b"}}));
  WriteFile(d + "/sha-config", "CONFIG_SCHED_CLASS_EXT=y\n");
  ImportOptions o;
  o.key = "local-abcdef1-x86_64-kc0000f00d";
  o.source = KernelSource::kLocal;
  o.kconfig_fragment_hash = "0000f00d";
  absl::StatusOr<ImportResult> r =
      ImportImage(**cache, d + "/sha-image", d + "/sha-vmlinux", d + "/sha-config", o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->entry.key, "local-abcdef1-x86_64-kc0000f00d");
  EXPECT_EQ(r->entry.metadata.source, KernelSource::kLocal);
  EXPECT_EQ(r->entry.metadata.kconfig_fragment_hash, "0000f00d");
  EXPECT_FALSE(r->entry.stale_fragment);
  EXPECT_TRUE(r->entry.metadata.sched_ext);
  EXPECT_EQ((**cache).Newest()->key, r->entry.key);
  o.key = "../evil";
  EXPECT_TRUE(absl::IsInvalidArgument(ImportImage(**cache, d + "/sha-image", "", "", o).status()));
  o.key = "";
  o.kconfig_fragment_hash = "xyz";
  EXPECT_TRUE(absl::IsInvalidArgument(ImportImage(**cache, d + "/sha-image", "", "", o).status()));
}

TEST(ImporterTest, RejectsWhatIsNotAKernel) {
  std::string d = NewTempDir();
  auto cache = KernelCache::Open(d + "/kernels", "0000f00d");
  ASSERT_TRUE(cache.ok());
  WriteFile(d + "/notes.txt", "hello");
  EXPECT_TRUE(absl::IsInvalidArgument(ImportPath(**cache, d + "/notes.txt", {}).status()));
  EXPECT_TRUE(absl::IsNotFound(ImportPath(**cache, d + "/missing", {}).status()));
  WriteFile(d + "/empty/.keep", "");
  EXPECT_TRUE(absl::IsNotFound(ImportPath(**cache, d + "/empty", {}).status()));
  WriteFile(d + "/noversion", MakeElf({{".text", "x"}}));
  absl::StatusOr<ImportResult> r = ImportPath(**cache, d + "/noversion", {});
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_NE(r.status().message().find("--version"), std::string::npos);
  ImportOptions o;
  o.version = "6.0.0-custom";
  r = ImportPath(**cache, d + "/noversion", o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->entry.metadata.image_name, "vmlinux");
  EXPECT_EQ(r->entry.boot_path(), r->entry.image_path());
  EXPECT_TRUE((**cache).List().size() == 1);
}

}  // namespace
}  // namespace ktstr::kcache
