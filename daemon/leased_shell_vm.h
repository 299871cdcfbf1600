// The real ShellVm: a VM leased from the warm pool, driven through its guest agent (Exec
// with a pty, StdinData, PtyResize).
#ifndef KTSTR_DAEMON_LEASED_SHELL_VM_H_
#define KTSTR_DAEMON_LEASED_SHELL_VM_H_

#include <functional>
#include <memory>

#include "daemon/shell_vm.h"
#include "daemon/warm_pool.h"

namespace ktstr::daemon {

// `on_destroyed` runs after the VM is gone (the pool's Released bookkeeping).
std::unique_ptr<ShellVm> MakeLeasedShellVm(std::unique_ptr<LeasedVm> vm,
                                           std::function<void()> on_destroyed);

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_LEASED_SHELL_VM_H_
