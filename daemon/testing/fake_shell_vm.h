// A ShellVm with no VM behind it, for daemon tests of the Shell RPC where QEMU need not run
// (linked into ktstrd's --executor=fake). Its "terminal" echoes each typed line back;
// "exit N" ends the command with N, ^D with 0; Kill() (the session's cancel or timeout)
// makes RunOnPty return UNAVAILABLE. PutFile checks the host file and prints
// "fake: put GUEST_PATH"; RunOnPty first prints "fake: run ARGV... on ROWSxCOLS".
#ifndef KTSTR_DAEMON_TESTING_FAKE_SHELL_VM_H_
#define KTSTR_DAEMON_TESTING_FAKE_SHELL_VM_H_

#include <atomic>
#include <memory>

#include "daemon/shell_vm.h"

namespace ktstr::daemon {

// `alive` counts the fake VMs that exist (what FakeExecutor reports as vms_running).
std::unique_ptr<ShellVm> MakeFakeShellVm(std::string id, std::atomic<uint32_t>* alive);

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_TESTING_FAKE_SHELL_VM_H_
