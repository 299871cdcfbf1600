// ktstr-client's process exit codes.
#ifndef KTSTR_CLIENT_EXIT_CODES_H_
#define KTSTR_CLIENT_EXIT_CODES_H_

namespace ktstr::client {

inline constexpr int kExitOk = 0;           // every test passed (or the command succeeded)
inline constexpr int kExitTestsFailed = 1;  // at least one test did not pass
inline constexpr int kExitUsage = 2;        // bad command line
inline constexpr int kExitError = 3;        // daemon unreachable, RPC refused, bad binary

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_EXIT_CODES_H_
