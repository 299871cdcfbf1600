#include "kernel_cache/metadata.h"

#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"

namespace ktstr::kcache {
namespace {

KernelMetadata Sample() {
  KernelMetadata m;
  m.version = "7.3.4+deb13-cloud-amd64";
  m.source = KernelSource::kDebian;
  m.source_detail = "linux-binary-7.3.4.deb";
  m.git_hash = "";
  m.arch = "x86_64";
  m.image_name = "bzImage";
  m.config_hash = "775360ea";
  m.kconfig_fragment_hash = "";
  m.created_unix_s = 1795597776;
  m.sched_ext = true;
  m.btf = true;
  m.has_vmlinux = true;
  m.vmlinux_stripped = false;
  m.has_config = true;
  return m;
}

TEST(MetadataTest, RoundTripKeepsEveryField) {
  KernelMetadata m = Sample();
  absl::StatusOr<KernelMetadata> back = MetadataFromJson(MetadataToJson(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->version, m.version);
  EXPECT_EQ(back->source, m.source);
  EXPECT_EQ(back->source_detail, m.source_detail);
  EXPECT_EQ(back->arch, m.arch);
  EXPECT_EQ(back->image_name, m.image_name);
  EXPECT_EQ(back->config_hash, m.config_hash);
  EXPECT_EQ(back->kconfig_fragment_hash, m.kconfig_fragment_hash);
  EXPECT_EQ(back->created_unix_s, m.created_unix_s);
  EXPECT_EQ(back->sched_ext, m.sched_ext);
  EXPECT_EQ(back->btf, m.btf);
  EXPECT_EQ(back->has_vmlinux, m.has_vmlinux);
  EXPECT_EQ(back->vmlinux_stripped, m.vmlinux_stripped);
  EXPECT_EQ(back->has_config, m.has_config);
}

TEST(MetadataTest, EverySourceNameRoundTrips) {
  for (KernelSource s : {KernelSource::kTarball, KernelSource::kLocal, KernelSource::kDebian,
                         KernelSource::kImage, KernelSource::kGit, KernelSource::kDebianSource}) {
    absl::StatusOr<KernelSource> back = ParseKernelSource(KernelSourceName(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_FALSE(ParseKernelSource("floppy").ok());
}

TEST(MetadataTest, MissingOrMistypedFieldIsAnError) {
  std::string json = MetadataToJson(Sample());
  std::string no_btf = absl::StrReplaceAll(json, {{"  \"btf\": true,\n", ""}});
  ASSERT_NE(no_btf, json);
  absl::StatusOr<KernelMetadata> r = MetadataFromJson(no_btf);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("btf"), std::string::npos) << r.status();

  std::string typed =
      absl::StrReplaceAll(json, {{"\"sched_ext\": true", "\"sched_ext\": \"yes\""}});
  EXPECT_FALSE(MetadataFromJson(typed).ok());
  std::string schema = absl::StrReplaceAll(json, {{"\"schema\": 1", "\"schema\": 0"}});
  EXPECT_FALSE(MetadataFromJson(schema).ok());
  std::string image = absl::StrReplaceAll(json, {{"\"bzImage\"", "\"../x\""}});
  EXPECT_FALSE(MetadataFromJson(image).ok());
  EXPECT_FALSE(MetadataFromJson(json.substr(0, json.size() / 2)).ok());
}

}  // namespace
}  // namespace ktstr::kcache
