// `ktstr-client shell`: an interactive shell (or one command) in a fresh VM of a chosen
// topology and kernel, through ktstrd's Shell RPC.
#ifndef KTSTR_CLIENT_SHELL_COMMAND_H_
#define KTSTR_CLIENT_SHELL_COMMAND_H_

#include "client/commands.h"

namespace ktstr::client {

// The usage line for ktstr-client's command table and the full --help text.
extern const char kShellUsage[];
extern const char kShellHelp[];

// Exit code: the shell's (or the command's); kExitUsage / kExitError for ktstr-client's own
// failures (bad arguments, no daemon, boot failure, timeout).
int ShellCommand(const ConnectOptions& conn, const Args& args);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_SHELL_COMMAND_H_
