// A kernel-source-shaped directory whose Makefile implements defconfig, olddefconfig,
// bzImage, kernelrelease and mrproper in a few lines, because a real kernel build takes
// 20+ minutes here (that one is tools/bench/kernel-build, run by hand). make and git are
// real; the "built" bzImage and vmlinux are small kernel-shaped files (test_files.h).
#ifndef KTSTR_KERNEL_CACHE_TESTING_FAKE_KERNEL_TREE_H_
#define KTSTR_KERNEL_CACHE_TESTING_FAKE_KERNEL_TREE_H_

#include <string>
#include <vector>

namespace ktstr::kcache::testing {

// The release `make kernelrelease` prints.
inline constexpr char kFakeTreeRelease[] = "6.99.0-fake";

// Writes the tree at `dir`. Knobs, as files in the tree: `drop-option` names an option
// olddefconfig removes (kconfig dropping an option whose dependencies are unmet);
// `fail-build` makes the compile fail with "error: boom".
void WriteFakeKernelTree(const std::string& dir);

// `git -C dir ARGS` with a fixed identity; fails the test when git does.
void GitInTree(const std::string& dir, const std::vector<std::string>& args);

// git init + commit of the tree's files: a clean tree, cacheable under a local-<hash> key.
void CommitFakeKernelTree(const std::string& dir);

}  // namespace ktstr::kcache::testing

#endif  // KTSTR_KERNEL_CACHE_TESTING_FAKE_KERNEL_TREE_H_
