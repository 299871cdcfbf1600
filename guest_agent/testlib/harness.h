// The library-provided main(): `--ktstr-list`, `--ktstr-run NAME [--ktstr-result-fd FD]
// [--ktstr-duration-s S]`, `--help`. Exit codes of --ktstr-run: 0 pass, 1 fail, 2 skip,
// 3 harness error.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_HARNESS_H_
#define KTSTR_GUEST_AGENT_TESTLIB_HARNESS_H_

namespace ktstr {

enum ExitCode : int {
  kExitPass = 0,
  kExitFail = 1,
  kExitSkip = 2,
  kExitHarnessError = 3,
  kExitUsage = 64,  // no or bad arguments (EX_USAGE)
};

int RunHarness(int argc, char** argv);

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_HARNESS_H_
