#include "daemon/testing/fake_shell_vm.h"

#include <unistd.h>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"

namespace ktstr::daemon {
namespace {

class FakeShellVm : public ShellVm {
 public:
  FakeShellVm(std::string id, std::atomic<uint32_t>* alive) : id_(std::move(id)), alive_(alive) {
    alive_->fetch_add(1);
  }
  ~FakeShellVm() override { alive_->fetch_sub(1); }

  std::string id() const override { return id_; }
  bool warm() const override { return false; }

  absl::Status PutFile(const GuestFileSource& f, absl::Time) override {
    if (access(f.host_path.c_str(), R_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("fake: no host file ", f.host_path));
    }
    absl::MutexLock lock(&mu_);
    puts_ += absl::StrCat("fake: put ", f.guest_path, "\r\n");
    return absl::OkStatus();
  }

  absl::StatusOr<int> RunOnPty(const PtyCommand& cmd, const OutputFn& output,
                               const std::function<void()>& on_started,
                               absl::Time deadline) override {
    {
      absl::MutexLock lock(&mu_);
      output(puts_);
    }
    output(absl::StrCat("fake: run ", absl::StrJoin(cmd.argv, " "), " on ", cmd.rows, "x",
                        cmd.cols, "\r\n"));
    on_started();
    std::string line;
    while (true) {
      std::string typed;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return killed_ || !typed_.empty(); };
        if (!mu_.AwaitWithDeadline(absl::Condition(&ready), deadline)) {
          return absl::DeadlineExceededError("fake: deadline");
        }
        if (killed_) return absl::UnavailableError("fake: the VM was killed");
        typed.swap(typed_);
      }
      for (char c : typed) {
        if (c == '\x04') return 0;
        if (c != '\n' && c != '\r') {
          line.push_back(c);
          continue;
        }
        output(line + "\r\n");
        int code = 0;
        if (absl::StartsWith(line, "exit ") && absl::SimpleAtoi(line.substr(5), &code)) {
          return code;
        }
        line.clear();
      }
    }
  }

  absl::Status SendStdin(absl::string_view data) override {
    absl::MutexLock lock(&mu_);
    typed_.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status Resize(uint32_t rows, uint32_t cols) override {
    return SendStdin(absl::StrCat("resized ", rows, "x", cols, "\n"));
  }
  void Kill() override {
    absl::MutexLock lock(&mu_);
    killed_ = true;
  }

 private:
  const std::string id_;
  std::atomic<uint32_t>* const alive_;
  absl::Mutex mu_;
  std::string typed_ ABSL_GUARDED_BY(mu_);
  std::string puts_ ABSL_GUARDED_BY(mu_);
  bool killed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

std::unique_ptr<ShellVm> MakeFakeShellVm(std::string id, std::atomic<uint32_t>* alive) {
  return std::make_unique<FakeShellVm>(std::move(id), alive);
}

}  // namespace ktstr::daemon
