#include "kernel_cache/testing/fake_kernel_tree.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernel_cache/subprocess.h"
#include "kernel_cache/testing/test_files.h"

namespace ktstr::kcache::testing {
namespace {

// Recipes need tabs.
constexpr char kMakefile[] =
    "defconfig:\n\tprintf 'CONFIG_BASE=y\\n' > .config\n"
    "olddefconfig:\n\tif [ -f drop-option ]; then sed -i \"/CONFIG_$$(cat drop-option)=/d\" "
    ".config; fi\n"
    "bzImage:\n\t@echo '  CC      kernel/sched/core.o'\n\t@echo '  CC      kernel/sched/ext.o'\n"
    "\tif [ -f fail-build ]; then echo 'error: boom'; exit 1; fi\n"
    "\tmkdir -p arch/x86/boot && cp prebuilt-bzImage arch/x86/boot/bzImage && cp prebuilt-vmlinux "
    "vmlinux\n"
    "kernelrelease:\n\t@echo 6.99.0-fake\n"
    "mrproper:\n\trm -f .config\n";

}  // namespace

void WriteFakeKernelTree(const std::string& dir) {
  WriteFile(dir + "/Makefile", kMakefile);
  WriteFile(dir + "/Kconfig", "# fake\n");
  // .BTF naming sched_ext_ops: what the importer looks for when a config is missing.
  WriteFile(dir + "/prebuilt-vmlinux", MakeElf({{".BTF", std::string("\0sched_ext_ops\0", 15)}}));
  WriteFile(dir + "/prebuilt-bzImage", MakeBzImage(kFakeTreeRelease, "x"));
}

void GitInTree(const std::string& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"git", "-C", dir, "-c", "user.name=t", "-c", "user.email=t@t"};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<CommandResult> r = RunCommandOk(argv);
  ASSERT_TRUE(r.ok()) << r.status();
}

void CommitFakeKernelTree(const std::string& dir) {
  GitInTree(dir, {"init", "-q"});
  GitInTree(dir, {"add", "Makefile", "Kconfig", "prebuilt-vmlinux", "prebuilt-bzImage"});
  GitInTree(dir, {"commit", "-q", "-m", "init"});
}

}  // namespace ktstr::kcache::testing
