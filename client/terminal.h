// The local terminal during `ktstr-client shell`: raw mode while the remote shell owns the
// screen (restored by RAII, and by a handler on fatal signals), its size, and SIGWINCH
// turned into a readable fd.
#ifndef KTSTR_CLIENT_TERMINAL_H_
#define KTSTR_CLIENT_TERMINAL_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"

namespace ktstr::client {

struct TerminalSize {
  uint32_t rows = 0;
  uint32_t cols = 0;
};

// The size of the terminal on `fd`; nullopt when it is not a terminal.
std::optional<TerminalSize> GetTerminalSize(int fd);

// Raw mode on a tty (no echo, no line editing, no signals from ^C/^Z: every byte goes to
// the remote shell). One at a time per process.
class RawTerminal {
 public:
  // FAILED_PRECONDITION when `fd` is not a terminal.
  static absl::StatusOr<std::unique_ptr<RawTerminal>> Enter(int fd);
  ~RawTerminal();  // restores the saved mode
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  explicit RawTerminal(int fd) : fd_(fd) {}
  const int fd_;
};

// SIGWINCH as bytes on a pipe (self-pipe): poll read_fd(), then Drain(). Restores the old
// handler on destruction. One at a time per process.
class WinchPipe {
 public:
  static absl::StatusOr<std::unique_ptr<WinchPipe>> Create();
  ~WinchPipe();
  WinchPipe(const WinchPipe&) = delete;
  WinchPipe& operator=(const WinchPipe&) = delete;

  int read_fd() const { return read_fd_; }
  // Empties the pipe; true when a SIGWINCH arrived since the last call.
  bool Drain();

 private:
  WinchPipe(int r, int w) : read_fd_(r), write_fd_(w) {}
  const int read_fd_;
  const int write_fd_;
};

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_TERMINAL_H_
