#include "client/closure.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ktstr::client {

absl::StatusOr<std::string> RunAndCapture(const std::vector<std::string>& argv,
                                          int* exit_code) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(out[1], 1);
    int null = open("/dev/null", O_WRONLY);  // e.g. ldd's "not a dynamic executable"
    if (null >= 0) dup2(null, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  std::string data;
  char buf[65536];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0) data.append(buf, n);
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return data;
}

absl::StatusOr<std::vector<std::string>> SharedLibraryClosure(const std::string& binary) {
  int code = 0;
  absl::StatusOr<std::string> out = RunAndCapture({"/usr/bin/ldd", binary}, &code);
  if (!out.ok()) return out.status();
  std::set<std::string> paths;
  for (absl::string_view line : absl::StrSplit(*out, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    // "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)" or
    // "/lib64/ld-linux-x86-64.so.2 (0x...)"
    size_t arrow = line.find("=> ");
    absl::string_view path = arrow != absl::string_view::npos ? line.substr(arrow + 3) : line;
    if (path.empty() || path[0] != '/') continue;
    path = path.substr(0, path.find(' '));
    paths.insert(std::string(path));
  }
  return std::vector<std::string>(paths.begin(), paths.end());
}

}  // namespace ktstr::client
