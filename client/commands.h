// ktstr-client's subcommands. Each takes the arguments after its name and returns an exit
// code (client/exit_codes.h).
#ifndef KTSTR_CLIENT_COMMANDS_H_
#define KTSTR_CLIENT_COMMANDS_H_

#include <string>
#include <vector>

#include "client/connection.h"

namespace ktstr::client {

using Args = std::vector<std::string>;

int TestCommand(const ConnectOptions& conn, const Args& args);
int GauntletCommand(const ConnectOptions& conn, const Args& args);
int StatsCommand(const ConnectOptions& conn, const Args& args);
int PoolCommand(const ConnectOptions& conn, const Args& args);
int KernelCommand(const ConnectOptions& conn, const Args& args);
// `kernel build ...` (args[0] == "build").
int KernelBuildCommand(const ConnectOptions& conn, const Args& args);
int DaemonCommand(const ConnectOptions& conn, const Args& args);
int CancelCommand(const ConnectOptions& conn, const Args& args);

// Prints "ktstr-client: <message>" to stderr and returns kExitError.
int Fail(const absl::Status& s);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_COMMANDS_H_
