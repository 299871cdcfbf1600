#include "daemon/testing/ktstrd_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/fs_util.h"
#include "gtest/gtest.h"
#include "kernel_cache/testing/test_files.h"

namespace ktstr::daemon::testing {

void KtstrdProcess::Start() {
  pid_ = fork();
  if (pid_ == 0) {
    std::string log = state_ + ".log";
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 2);
    setenv("KTSTR_CACHE_DIR", ktstr_cache_.c_str(), 1);
    execl("daemon/ktstrd", "ktstrd", "--executor=fake", ("--socket=" + socket_).c_str(),
          ("--state_dir=" + state_).c_str(), "--max_artifact_mb=1", "--vcpu_budget=4",
          ("--testonly_fake_peer_cred_file=" + state_ + ".fake_cred").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
  ASSERT_TRUE(channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(20))))
      << "ktstrd did not come up; see " << state_ << ".log";
  stub_ = ktstr::v1::Ktstrd::NewStub(channel_);
}

void KtstrdProcess::Kill(int sig) {
  if (pid_ <= 0) return;
  kill(pid_, sig);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

namespace {
int RunClientCommand(const std::string& socket, const std::string& tmp_dir,
                     const std::vector<std::string>& args, const std::string& redirect_in,
                     std::string* out, std::string* err) {
  const std::string o = tmp_dir + "/client.out", e = tmp_dir + "/client.err";
  std::string cmd = absl::StrCat("client/ktstr-client --socket ", socket, " --no-autostart");
  for (const auto& a : args) absl::StrAppend(&cmd, " '", a, "'");
  absl::StrAppend(&cmd, redirect_in, " >", o, err ? absl::StrCat(" 2>", e) : std::string(" 2>&1"));
  int status = system(cmd.c_str());
  *out = ReadFileToString(o).value_or("");
  if (err) *err = ReadFileToString(e).value_or("");
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
}  // namespace

int RunClient(const std::string& socket, const std::string& tmp_dir,
              const std::vector<std::string>& args, std::string* out, std::string* err) {
  return RunClientCommand(socket, tmp_dir, args, "", out, err);
}

int RunClientWithInput(const std::string& socket, const std::string& tmp_dir,
                       const std::vector<std::string>& args, const std::string& input,
                       std::string* out, std::string* err) {
  const std::string in = tmp_dir + "/client.in";
  kcache::testing::WriteFile(in, input);
  return RunClientCommand(socket, tmp_dir, args, " <" + in, out, err);
}

void WriteFakeSetupKernel(const std::string& ktstr_cache, const std::string& release) {
  const std::string setup = ktstr_cache + "/debian/default";
  kcache::testing::WriteFile(setup + "/vmlinuz", kcache::testing::MakeBzImage(
      release, kcache::testing::MakeElf({{".BTF", "btf"}})));
  kcache::testing::WriteFile(setup + "/config", "CONFIG_SCHED_CLASS_EXT=y\n"
                                                "CONFIG_DEBUG_INFO_BTF=y\n");
  kcache::testing::WriteFile(setup + "/release", release + "\n");
}

int StoredVerdict(const std::string& results_db, const std::string& test_name) {
  sqlite3* db;
  int kind = -1;
  if (sqlite3_open_v2(results_db.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return kind;
  }
  sqlite3_stmt* q = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT verdict_kind FROM jobs WHERE test_name = ? ORDER BY rowid DESC",
                         -1, &q, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(q, 1, test_name.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) == SQLITE_ROW) kind = sqlite3_column_int(q, 0);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  return kind;
}

}  // namespace ktstr::daemon::testing
