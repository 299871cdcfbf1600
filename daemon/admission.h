// Admission: a queue of jobs from many runs, fair between runs (round robin: each admission
// goes to the next run in rotation that has a job fitting the budget), within a host budget
// of vCPUs and memory. Not thread-safe: the dispatcher owns it under its mutex.
#ifndef KTSTR_DAEMON_ADMISSION_H_
#define KTSTR_DAEMON_ADMISSION_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ktstr::daemon {

struct Resources {
  uint32_t vcpus = 0;
  uint64_t memory_mb = 0;
};

struct QueuedJobRef {
  std::string run_id;
  uint32_t index = 0;
  Resources cost;
};

class Admission {
 public:
  explicit Admission(Resources budget) : budget_(budget) {}

  void Enqueue(const std::string& run_id, uint32_t index, Resources cost);
  // The next job to start, its cost reserved; nullopt if nothing queued fits. A job larger
  // than the whole budget is admitted only when nothing else holds budget (else it could
  // never run); the overcommit is logged by the caller.
  std::optional<QueuedJobRef> Next();
  // Returns a finished job's reservation.
  void Release(Resources cost);
  // Drops a run's queued jobs (cancel); returns their indices in queue order.
  std::vector<uint32_t> RemoveRun(const std::string& run_id);
  // 0-based position among all queued jobs, in the order Next() would visit them if every
  // job fit; -1 if not queued.
  int Position(const std::string& run_id, uint32_t index) const;

  size_t queued() const;
  Resources in_use() const { return in_use_; }
  Resources budget() const { return budget_; }

 private:
  bool Fits(Resources cost) const;

  const Resources budget_;
  Resources in_use_;
  std::map<std::string, std::deque<QueuedJobRef>> per_run_;
  std::deque<std::string> rotation_;  // runs with queued jobs, next to serve first
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_ADMISSION_H_
