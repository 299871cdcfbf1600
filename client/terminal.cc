#include "client/terminal.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "absl/strings/str_cat.h"

namespace ktstr::client {
namespace {

// Raw-mode state the fatal-signal handler needs (async-signal-safe access only).
struct termios g_saved_termios;
std::atomic<int> g_raw_fd{-1};
constexpr int kFatalSignals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM};
struct sigaction g_old_fatal[sizeof kFatalSignals / sizeof kFatalSignals[0]];

// Restores the terminal, then dies of the signal as if we had not caught it.
void RestoreAndReraise(int sig) {
  int fd = g_raw_fd.exchange(-1);
  if (fd >= 0) tcsetattr(fd, TCSANOW, &g_saved_termios);
  signal(sig, SIG_DFL);
  raise(sig);
}

std::atomic<int> g_winch_fd{-1};
struct sigaction g_old_winch;

void OnWinch(int) {
  int saved = errno;
  int fd = g_winch_fd.load();
  if (fd >= 0) {
    char b = 'w';
    ssize_t unused = write(fd, &b, 1);  // a full pipe already says "resized"
    (void)unused;
  }
  errno = saved;
}

}  // namespace

std::optional<TerminalSize> GetTerminalSize(int fd) {
  struct winsize ws {};
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return std::nullopt;
  return TerminalSize{ws.ws_row, ws.ws_col};
}

absl::StatusOr<std::unique_ptr<RawTerminal>> RawTerminal::Enter(int fd) {
  struct termios t;
  if (!isatty(fd) || tcgetattr(fd, &t) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("fd ", fd, " is not a terminal"));
  }
  g_saved_termios = t;
  cfmakeraw(&t);
  // Install the restoring handlers before leaving cooked mode.
  struct sigaction sa {};
  sa.sa_handler = RestoreAndReraise;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof kFatalSignals / sizeof kFatalSignals[0]; ++i) {
    sigaction(kFatalSignals[i], &sa, &g_old_fatal[i]);
  }
  g_raw_fd.store(fd);
  if (tcsetattr(fd, TCSANOW, &t) != 0) {
    g_raw_fd.store(-1);
    for (size_t i = 0; i < sizeof kFatalSignals / sizeof kFatalSignals[0]; ++i) {
      sigaction(kFatalSignals[i], &g_old_fatal[i], nullptr);
    }
    return absl::FailedPreconditionError("cannot put the terminal in raw mode");
  }
  return std::unique_ptr<RawTerminal>(new RawTerminal(fd));
}

RawTerminal::~RawTerminal() {
  if (g_raw_fd.exchange(-1) >= 0) tcsetattr(fd_, TCSANOW, &g_saved_termios);
  for (size_t i = 0; i < sizeof kFatalSignals / sizeof kFatalSignals[0]; ++i) {
    sigaction(kFatalSignals[i], &g_old_fatal[i], nullptr);
  }
}

absl::StatusOr<std::unique_ptr<WinchPipe>> WinchPipe::Create() {
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return absl::InternalError("pipe failed");
  g_winch_fd.store(p[1]);
  struct sigaction sa {};
  sa.sa_handler = OnWinch;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGWINCH, &sa, &g_old_winch);
  return std::unique_ptr<WinchPipe>(new WinchPipe(p[0], p[1]));
}

WinchPipe::~WinchPipe() {
  sigaction(SIGWINCH, &g_old_winch, nullptr);
  g_winch_fd.store(-1);
  close(read_fd_);
  close(write_fd_);
}

bool WinchPipe::Drain() {
  char buf[64];
  bool any = false;
  while (read(read_fd_, buf, sizeof buf) > 0) any = true;
  return any;
}

}  // namespace ktstr::client
