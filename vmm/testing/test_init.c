// A tiny static /init for vmm's VM tests (stands in for the guest agent, which vmm must not
// depend on). It:
//   1. mounts proc, sysfs and devtmpfs and writes to /dev/console;
//   2. prints the topology it sees in sysfs, one "KTSTR_TOPO ..." line per fact;
//   3. acts on ktstr_test.mode= from the kernel command line:
//        panic  -> crashes the kernel (sysrq 'c') before ready
//        hang   -> never prints the ready marker
//        (else) -> opens the virtio port named "ktstr.agent", prints KTSTR_AGENT_READY and
//                  answers "PING\n" with "PONG <uptime>\n" and "PANIC\n" with a sysrq crash.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static FILE* console;

static void Say(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(console, fmt, ap);
  va_end(ap);
  fflush(console);
}

// Reads a small sysfs file into buf without the trailing newline; "?" if absent.
static const char* ReadSmall(const char* path, char* buf, size_t size) {
  int fd = open(path, O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
  if (fd >= 0) close(fd);
  if (n <= 0) return strcpy(buf, "?");
  buf[n] = 0;
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = 0;
  return buf;
}

static void PrintTopology(void) {
  char path[256], a[256], b[256], c[256], d[256];
  Say("KTSTR_TOPO nproc=%ld\n", sysconf(_SC_NPROCESSORS_ONLN));
  for (int cpu = 0;; ++cpu) {
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
    if (access(path, R_OK) != 0) break;
    ReadSmall(path, a, sizeof(a));
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list",
             cpu);
    ReadSmall(path, b, sizeof(b));
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cache/index3/shared_cpu_list", cpu);
    ReadSmall(path, c, sizeof(c));
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
    ReadSmall(path, d, sizeof(d));
    int node = -1;
    for (int n = 0; n < 64 && node < 0; ++n) {
      snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/node%d", cpu, n);
      if (access(path, F_OK) == 0) node = n;
    }
    Say("KTSTR_TOPO cpu=%d node=%d package=%s core_id=%s siblings=%s llc=%s\n", cpu, node, d, a, b,
        c);
  }
  for (int n = 0;; ++n) {
    snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", n);
    if (access(path, R_OK) != 0) break;
    Say("KTSTR_TOPO node=%d cpus=%s\n", n, ReadSmall(path, a, sizeof(a)));
  }
  Say("KTSTR_TOPO end\n");
}

static void Crash(void) {
  int fd = open("/proc/sysrq-trigger", O_WRONLY);
  if (fd >= 0) write(fd, "c", 1);
  Say("ktstr test init: sysrq crash did not happen\n");
}

static int OpenChannel(void) {
  DIR* dir = opendir("/sys/class/virtio-ports");
  if (dir == NULL) return -1;
  struct dirent* e;
  int fd = -1;
  while (fd < 0 && (e = readdir(dir)) != NULL) {
    char path[300], name[128];
    snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
    if (strcmp(ReadSmall(path, name, sizeof(name)), "ktstr.agent") != 0) continue;
    snprintf(path, sizeof(path), "/dev/%s", e->d_name);
    fd = open(path, O_RDWR);
  }
  closedir(dir);
  return fd;
}

int main(void) {
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  console = fopen("/dev/console", "w");
  if (console == NULL) console = stderr;

  char cmdline[4096];
  ReadSmall("/proc/cmdline", cmdline, sizeof(cmdline));
  PrintTopology();
  if (strstr(cmdline, "ktstr_test.mode=panic")) Crash();
  if (strstr(cmdline, "ktstr_test.mode=hang")) {
    for (;;) pause();
  }
  int chan = OpenChannel();
  if (chan < 0) {
    Say("ktstr test init: no virtio port named ktstr.agent (%s)\n", strerror(errno));
    for (;;) pause();
  }
  Say("KTSTR_AGENT_READY\n");
  char line[256];
  size_t len = 0;
  for (;;) {
    char ch;
    ssize_t n = read(chan, &ch, 1);
    if (n <= 0) {  // no host connected: a virtio port reads 0; poll gently
      usleep(20000);
      continue;
    }
    if (ch != '\n') {
      if (len + 1 < sizeof(line)) line[len++] = ch;
      continue;
    }
    line[len] = 0;
    len = 0;
    if (strcmp(line, "PING") == 0) {
      char up[64], reply[128];
      int r =
          snprintf(reply, sizeof(reply), "PONG %s\n", ReadSmall("/proc/uptime", up, sizeof(up)));
      write(chan, reply, r);
    } else if (strcmp(line, "PANIC") == 0) {
      Crash();
    }
  }
}
