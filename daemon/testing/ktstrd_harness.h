// Test-only helpers for tests that drive a real ktstrd with the real ktstr-client binary
// (daemon/ktstrd_service_test.cc, daemon/ktstrd_vm_itest.cc,
// scheduler_tests/scx_fifo_e2e_itest.cc, client/kernel_build_command_test.cc).
#ifndef KTSTR_DAEMON_TESTING_KTSTRD_HARNESS_H_
#define KTSTR_DAEMON_TESTING_KTSTRD_HARNESS_H_

#include <signal.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace ktstr::daemon::testing {

// `daemon/ktstrd --executor=fake` (daemon/testing/fake_executor.h: jobs run no VM) as a
// child process on `socket`, with its state under `state` and KTSTR_CACHE_DIR=`ktstr_cache`
// (its kernels in <ktstr_cache>/kernels, the kernel "tools/setup fetched" in
// <ktstr_cache>/debian/default). Killed with SIGKILL when destroyed.
class KtstrdProcess {
 public:
  KtstrdProcess(std::string socket, std::string state, std::string ktstr_cache)
      : socket_(std::move(socket)), state_(std::move(state)), ktstr_cache_(std::move(ktstr_cache)) {}
  ~KtstrdProcess() { Kill(SIGKILL); }
  KtstrdProcess(const KtstrdProcess&) = delete;
  KtstrdProcess& operator=(const KtstrdProcess&) = delete;

  // Starts it and waits for its socket; fails the test (log: <state>.log) when it does not
  // come up. --testonly_fake_peer_cred_file=<state>.fake_cred fakes a second user.
  void Start();
  void Kill(int sig);

  ktstr::v1::Ktstrd::Stub* stub() { return stub_.get(); }
  pid_t pid() const { return pid_; }
  const std::string& socket() const { return socket_; }

 private:
  std::string socket_, state_, ktstr_cache_;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ktstr::v1::Ktstrd::Stub> stub_;
};

// Writes a small kernel-shaped stand-in (bzImage with a BTF-bearing ELF, config, release)
// where tools/setup leaves the real one (<ktstr_cache>/debian/default): KtstrdProcess
// imports it into its cache at startup and jobs and shells resolve it by default.
void WriteFakeSetupKernel(const std::string& ktstr_cache, const std::string& release);

// Runs `client/ktstr-client --socket SOCKET --no-autostart ARGS...` (a runfiles-relative
// path). Output goes through files under `tmp_dir`; stdout to *out, stderr to *err, or both
// to *out when err is null. Returns the exit code, -1 if it did not exit normally.
int RunClient(const std::string& socket, const std::string& tmp_dir,
              const std::vector<std::string>& args, std::string* out, std::string* err = nullptr);
// The same with `input` as the client's stdin (a file, not a terminal).
int RunClientWithInput(const std::string& socket, const std::string& tmp_dir,
                       const std::vector<std::string>& args, const std::string& input,
                       std::string* out, std::string* err = nullptr);

// The newest stored verdict kind of `test_name` in ktstrd's results.db, -1 if none.
int StoredVerdict(const std::string& results_db, const std::string& test_name);

}  // namespace ktstr::daemon::testing

#endif  // KTSTR_DAEMON_TESTING_KTSTRD_HARNESS_H_
