// Every path ktstrd uses on disk, in one place (LevelDB filename.h style). No other file
// builds state paths by concatenating strings.
#ifndef KTSTR_DAEMON_STATE_PATHS_H_
#define KTSTR_DAEMON_STATE_PATHS_H_

#include <string>

namespace ktstr::daemon {

// Per-user mode (default) or system mode (systemd unit, /run and /var/lib).
struct StatePaths {
  bool system_mode = false;
  std::string socket_path;  // the gRPC unix socket
  std::string state_dir;    // artifacts, qemu pid records, job logs, VM work dirs
  std::string results_db;   // SQLite results

  // Defaults: per-user mode
  //   socket   $XDG_RUNTIME_DIR/ktstr/ktstrd.sock, else /tmp/ktstr-<uid>/ktstrd.sock
  //   state    $XDG_STATE_HOME/ktstr, else ~/.local/state/ktstr
  //   results  <state>/results.db
  // system mode: /run/ktstr/ktstrd.sock, /var/lib/ktstr, /var/lib/ktstr/results.db.
  static StatePaths ForUser();
  static StatePaths ForSystem();

  std::string ArtifactsDir() const;                        // <state>/artifacts
  std::string ArtifactPath(const std::string& sha256) const;  // <state>/artifacts/<sha256>
  std::string UploadsDir() const;                          // <state>/artifacts/.incoming
  std::string QemuPidsDir() const;   // <state>/qemu-pids: one file per live QEMU, name = pid
  std::string JobLogDir(const std::string& run_id, int job_index) const;  // <state>/logs/...
  std::string VmWorkDir() const;     // <state>/vms: per-VM scratch (sockets, snapshots)
  std::string DaemonPidFile() const;  // <state>/ktstrd.pid
};

// The per-user default socket path alone (what the client looks for).
std::string DefaultUserSocketPath();

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_STATE_PATHS_H_
