#include "daemon/admission.h"

#include <algorithm>

namespace ktstr::daemon {

void Admission::Enqueue(const std::string& run_id, uint32_t index, Resources cost) {
  auto& q = per_run_[run_id];
  if (q.empty()) rotation_.push_back(run_id);
  q.push_back(QueuedJobRef{run_id, index, cost});
}

bool Admission::Fits(Resources cost) const {
  bool idle = in_use_.vcpus == 0 && in_use_.memory_mb == 0;
  if (idle) return true;  // even an oversized job runs alone rather than never
  return in_use_.vcpus + cost.vcpus <= budget_.vcpus &&
         in_use_.memory_mb + cost.memory_mb <= budget_.memory_mb;
}

std::optional<QueuedJobRef> Admission::Next() {
  for (size_t i = 0; i < rotation_.size(); ++i) {
    const std::string run_id = rotation_[i];
    auto& q = per_run_[run_id];
    if (!Fits(q.front().cost)) continue;
    QueuedJobRef ref = q.front();
    q.pop_front();
    rotation_.erase(rotation_.begin() + i);
    if (q.empty()) {
      per_run_.erase(run_id);
    } else {
      rotation_.push_back(run_id);  // served: go to the back of the rotation
    }
    in_use_.vcpus += ref.cost.vcpus;
    in_use_.memory_mb += ref.cost.memory_mb;
    return ref;
  }
  return std::nullopt;
}

void Admission::Release(Resources cost) {
  in_use_.vcpus -= std::min(in_use_.vcpus, cost.vcpus);
  in_use_.memory_mb -= std::min(in_use_.memory_mb, cost.memory_mb);
}

std::vector<uint32_t> Admission::RemoveRun(const std::string& run_id) {
  std::vector<uint32_t> removed;
  auto it = per_run_.find(run_id);
  if (it == per_run_.end()) return removed;
  for (const auto& ref : it->second) removed.push_back(ref.index);
  per_run_.erase(it);
  rotation_.erase(std::remove(rotation_.begin(), rotation_.end(), run_id), rotation_.end());
  return removed;
}

int Admission::Position(const std::string& run_id, uint32_t index) const {
  // Simulate the rotation: round r takes the r-th job of every run still having one.
  size_t max_depth = 0;
  for (const auto& [id, q] : per_run_) max_depth = std::max(max_depth, q.size());
  int pos = 0;
  for (size_t depth = 0; depth < max_depth; ++depth) {
    for (const std::string& id : rotation_) {
      const auto& q = per_run_.at(id);
      if (depth >= q.size()) continue;
      if (id == run_id && q[depth].index == index) return pos;
      ++pos;
    }
  }
  return -1;
}

size_t Admission::queued() const {
  size_t n = 0;
  for (const auto& [id, q] : per_run_) n += q.size();
  return n;
}

}  // namespace ktstr::daemon
