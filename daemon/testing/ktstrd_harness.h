// Test-only helpers for tests that drive a real ktstrd with the real ktstr-client binary
// (daemon/ktstrd_vm_itest.cc, scheduler_tests/scx_fifo_e2e_itest.cc).
#ifndef KTSTR_DAEMON_TESTING_KTSTRD_HARNESS_H_
#define KTSTR_DAEMON_TESTING_KTSTRD_HARNESS_H_

#include <string>
#include <vector>

namespace ktstr::daemon::testing {

// Runs `client/ktstr-client --socket SOCKET --no-autostart ARGS...` (a runfiles-relative
// path). Output goes through files under `tmp_dir`; stdout to *out, stderr to *err, or both
// to *out when err is null. Returns the exit code, -1 if it did not exit normally.
int RunClient(const std::string& socket, const std::string& tmp_dir,
              const std::vector<std::string>& args, std::string* out, std::string* err = nullptr);

// The newest stored verdict kind of `test_name` in ktstrd's results.db, -1 if none.
int StoredVerdict(const std::string& results_db, const std::string& test_name);

}  // namespace ktstr::daemon::testing

#endif  // KTSTR_DAEMON_TESTING_KTSTRD_HARNESS_H_
