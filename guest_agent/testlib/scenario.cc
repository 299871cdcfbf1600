#include "guest_agent/testlib/scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "guest_agent/testlib/numa_pages.h"
#include "guest_agent/testlib/payloads.h"
#include "guest_agent/testlib/workers.h"
#include "spdlog/spdlog.h"

namespace ktstr {
namespace config {
// How often a hold looks at the scheduler's liveness and the interrupt flag.
constexpr auto kHoldPoll = std::chrono::milliseconds(50);
}  // namespace config
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBackdropScope = -1;

struct Batch {
  std::unique_ptr<WorkerSet> set;
  int scope;
  std::vector<int> policy_nodes;  // its memory policy's nodes; empty = local allocation
};

struct LiveCgroup {
  int scope = kBackdropScope;
  CpuSet cpus;               // current cpuset; empty = none set
  CpuSet allowed;            // union of every cpuset it had
  bool unrestricted = true;  // ran without a cpuset at some point
  std::vector<Batch> batches;
};

int Depth(const std::string& name) {
  return static_cast<int>(std::count(name.begin(), name.end(), '/'));
}

class Runner {
 public:
  Runner(const Ctx& ctx, Assert checks) : ctx_(ctx), checks_(std::move(checks)) {}
  ~Runner() { Abandon(); }

  absl::StatusOr<AssertResult> Run(Backdrop backdrop, std::vector<Step> steps);

 private:
  absl::Status Apply(const Op& op, int scope);
  absl::Status Setup(const CgroupDef& def, int scope);
  absl::Status AddCgroup(const std::string& name, int scope);
  absl::Status RemoveCgroup(const std::string& name, int scope);
  absl::Status SetCpus(const std::string& name, const CpuSet& cpus);
  absl::Status ClearCpus(const std::string& name);
  absl::Status SpawnWork(const std::string& cgroup, const Work& work, int scope);
  absl::StatusOr<LiveCgroup*> Find(const std::string& name);
  // Stops the batches `pred` selects, collecting their reports under the cgroup's name.
  void StopBatches(const std::function<bool(const std::string&, const Batch&)>& pred);
  void Collect(const std::string& name, const LiveCgroup& cg, std::vector<WorkerReport> reports,
               const std::vector<int>& policy_nodes);
  absl::Status EndScope(int scope);
  // Sleeps to `deadline`, re-applying `loop_ops` every `interval` when set. False when the
  // scheduler died.
  absl::StatusOr<bool> Hold(Clock::time_point deadline, const std::vector<Op>* loop_ops,
                            std::chrono::milliseconds interval, int scope, int step_index);
  absl::Status WaitPayload(const std::string& name, const std::string& cgroup);
  void Abandon();

  const Ctx& ctx_;
  Assert checks_;
  std::map<std::string, LiveCgroup> cgroups_;
  LiveCgroup host_;                 // SpawnHost workers: left in the harness's own cgroup
  std::vector<std::string> order_;  // cgroup names in order of first report
  std::map<std::string, CgroupReports> collected_;
  PayloadSet payloads_;
  AssertResult extra_;
  uint64_t seed_ = 1;
  Clock::time_point start_;
};

absl::StatusOr<LiveCgroup*> Runner::Find(const std::string& name) {
  auto it = cgroups_.find(name);
  if (it == cgroups_.end()) {
    return absl::NotFoundError(absl::StrCat("no cgroup named '", name, "' in this scenario"));
  }
  return &it->second;
}

absl::Status Runner::AddCgroup(const std::string& name, int scope) {
  if (name.empty()) return absl::InvalidArgumentError("a cgroup needs a name");
  if (cgroups_.count(name)) {
    return absl::AlreadyExistsError(absl::StrCat("cgroup '", name, "' already exists"));
  }
  if (absl::Status s = ctx_.cgroups->Create(name); !s.ok()) return s;
  // Register missing intermediate cgroups too, so removal and teardown know them.
  std::string path;
  for (absl::string_view part : absl::StrSplit(name, '/', absl::SkipEmpty())) {
    path = path.empty() ? std::string(part) : absl::StrCat(path, "/", part);
    if (!cgroups_.count(path)) cgroups_[path].scope = scope;
  }
  return absl::OkStatus();
}

absl::Status Runner::SetCpus(const std::string& name, const CpuSet& cpus) {
  absl::StatusOr<LiveCgroup*> cg = Find(name);
  if (!cg.ok()) return cg.status();
  if (absl::Status s = ctx_.cgroups->SetCpuset(name, cpus); !s.ok()) return s;
  // Workers that already ran without a cpuset keep the cgroup "unrestricted" for isolation.
  if ((*cg)->batches.empty()) (*cg)->unrestricted = false;
  (*cg)->cpus = cpus;
  (*cg)->allowed = CpuUnion((*cg)->allowed, cpus);
  return absl::OkStatus();
}

absl::Status Runner::ClearCpus(const std::string& name) {
  absl::StatusOr<LiveCgroup*> cg = Find(name);
  if (!cg.ok()) return cg.status();
  if (absl::Status s = ctx_.cgroups->ClearCpuset(name); !s.ok()) return s;
  (*cg)->cpus.clear();
  (*cg)->unrestricted = true;
  return absl::OkStatus();
}

absl::Status Runner::SpawnWork(const std::string& cgroup, const Work& work, int scope) {
  LiveCgroup* cg = &host_;
  if (!cgroup.empty()) {
    absl::StatusOr<LiveCgroup*> found = Find(cgroup);
    if (!found.ok()) return found.status();
    cg = *found;
  }
  WorkerSpec spec;
  spec.count = work.workers > 0 ? work.workers : ctx_.workers_per_cgroup;
  spec.work = work.work_type;
  spec.policy = work.sched_policy;
  spec.mem_policy = work.mem_policy;
  spec.cgroup = cgroup;
  spec.numa_samples = checks_.min_page_locality.has_value() ||
                      checks_.max_cross_node_migration_ratio.has_value() ||
                      checks_.max_slow_tier_ratio.has_value();
  spec.affinity = ResolveAffinity(work.affinity, ctx_.topo, cg->cpus, spec.count, seed_++);
  if (!work.mem_policy.nodes.empty()) {
    std::set<int> nodes;
    for (int c : cg->cpus.empty() ? ctx_.topo.usable_cpus() : cg->cpus) {
      nodes.insert(ctx_.topo.node_of(c));
    }
    for (int n : work.mem_policy.nodes) {
      if (!nodes.count(n)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "memory policy node %d of cgroup '%s' is not a node of its cpuset", n, cgroup));
      }
    }
  }
  absl::StatusOr<std::unique_ptr<WorkerSet>> set = WorkerSet::Spawn(spec, [&](pid_t pid) {
    return cgroup.empty() ? absl::OkStatus() : ctx_.cgroups->MoveTask(cgroup, pid);
  });
  if (!set.ok()) {
    return absl::Status(set.status().code(),
                        absl::StrCat("spawn in '", cgroup, "': ", set.status().message()));
  }
  // Local allocation (Default, Local) is judged against the CPUs the workers ran on.
  const bool local = work.mem_policy.kind == MemPolicy::Kind::kDefault ||
                     work.mem_policy.kind == MemPolicy::Kind::kLocal;
  cg->batches.push_back(
      {*std::move(set), scope, local ? std::vector<int>{} : work.mem_policy.nodes});
  return absl::OkStatus();
}

void Runner::Collect(const std::string& name, const LiveCgroup& cg,
                     std::vector<WorkerReport> reports, const std::vector<int>& policy_nodes) {
  auto [it, inserted] = collected_.try_emplace(name);
  if (inserted) {
    order_.push_back(name);
    it->second.name = name;
  }
  for (WorkerReport& r : reports) {
    r.cgroup = name;
    r.policy_nodes = policy_nodes;
  }
  it->second.reports.insert(it->second.reports.end(), reports.begin(), reports.end());
  // Isolation is judged against every cpuset the cgroup had, or not at all if it ran free.
  it->second.allowed_cpus =
      cg.unrestricted ? CpuSet{} : CpuUnion(it->second.allowed_cpus, cg.allowed);
}

void Runner::StopBatches(const std::function<bool(const std::string&, const Batch&)>& pred) {
  // Signal every selected batch first so they wind down together, then collect.
  std::vector<std::pair<std::string, LiveCgroup*>> all;
  all.emplace_back("", &host_);
  for (auto& [name, cg] : cgroups_) all.emplace_back(name, &cg);
  const auto deadline = Clock::now() + config::kStopDeadline;
  for (auto& [name, cg] : all) {
    std::vector<Batch> keep;
    for (Batch& b : cg->batches) {
      if (!pred(name, b)) {
        keep.push_back(std::move(b));
        continue;
      }
      Collect(name, *cg, b.set->Stop(deadline), b.policy_nodes);
    }
    cg->batches = std::move(keep);
  }
}

absl::Status Runner::RemoveCgroup(const std::string& name, int scope) {
  absl::StatusOr<LiveCgroup*> cg = Find(name);
  if (!cg.ok()) return cg.status();
  if ((*cg)->scope == kBackdropScope && scope != kBackdropScope) {
    return absl::FailedPreconditionError(
        absl::StrCat("a step may not remove backdrop cgroup '", name, "'"));
  }
  const std::string prefix = name + "/";
  auto in_tree = [&](const std::string& n) { return n == name || absl::StartsWith(n, prefix); };
  StopBatches([&](const std::string& n, const Batch&) { return in_tree(n); });
  for (auto it = cgroups_.begin(); it != cgroups_.end();) {
    it = in_tree(it->first) ? cgroups_.erase(it) : std::next(it);
  }
  return ctx_.cgroups->Remove(name);
}

absl::Status Runner::WaitPayload(const std::string& name, const std::string& cgroup) {
  absl::StatusOr<int> status = payloads_.Wait(name, cgroup, [] { return g_interrupted.load(); });
  if (!status.ok()) return status.status();
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    extra_.AddFailure(
        DetailKind::kOther,
        absl::StrFormat("payload %s exited with %s %d", name,
                        WIFEXITED(*status) ? "status" : "signal",
                        WIFEXITED(*status) ? WEXITSTATUS(*status) : WTERMSIG(*status)),
        cgroup);
  }
  return absl::OkStatus();
}

absl::Status Runner::Apply(const Op& op, int scope) {
  return std::visit(
      [&](const auto& o) -> absl::Status {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, op::AddCgroup>) {
          return AddCgroup(o.name, scope);
        } else if constexpr (std::is_same_v<T, op::RemoveCgroup>) {
          return RemoveCgroup(o.cgroup, scope);
        } else if constexpr (std::is_same_v<T, op::SetCpuset>) {
          absl::StatusOr<CpuSet> cpus = o.cpus.Resolve(ctx_.topo);
          if (!cpus.ok()) return cpus.status();
          return SetCpus(o.cgroup, *cpus);
        } else if constexpr (std::is_same_v<T, op::ClearCpuset>) {
          return ClearCpus(o.cgroup);
        } else if constexpr (std::is_same_v<T, op::SwapCpusets>) {
          absl::StatusOr<LiveCgroup*> a = Find(o.a), b = Find(o.b);
          if (!a.ok()) return a.status();
          if (!b.ok()) return b.status();
          const CpuSet ca = (*a)->cpus, cb = (*b)->cpus;
          absl::Status s = cb.empty() ? ClearCpus(o.a) : SetCpus(o.a, cb);
          if (!s.ok()) return s;
          return ca.empty() ? ClearCpus(o.b) : SetCpus(o.b, ca);
        } else if constexpr (std::is_same_v<T, op::Spawn>) {
          return SpawnWork(o.cgroup, o.work, scope);
        } else if constexpr (std::is_same_v<T, op::StopCgroup>) {
          if (absl::StatusOr<LiveCgroup*> cg = Find(o.cgroup); !cg.ok()) return cg.status();
          StopBatches([&](const std::string& n, const Batch&) { return n == o.cgroup; });
          return absl::OkStatus();
        } else if constexpr (std::is_same_v<T, op::SetAffinity>) {
          absl::StatusOr<LiveCgroup*> cg = Find(o.cgroup);
          if (!cg.ok()) return cg.status();
          for (Batch& b : (*cg)->batches) {
            const std::vector<pid_t>& pids = b.set->pids();
            std::vector<CpuSet> masks = ResolveAffinity(o.affinity, ctx_.topo, (*cg)->cpus,
                                                        static_cast<int>(pids.size()), seed_++);
            for (size_t i = 0; i < pids.size(); ++i) {
              CpuSet mask = masks[i].empty()
                                ? ((*cg)->cpus.empty() ? ctx_.topo.all_cpus() : (*cg)->cpus)
                                : masks[i];
              cpu_set_t set;
              CPU_ZERO(&set);
              for (int c : mask) CPU_SET(c, &set);
              if (sched_setaffinity(pids[i], sizeof(set), &set) != 0 && errno != ESRCH) {
                return absl::FailedPreconditionError(
                    absl::StrFormat("sched_setaffinity(%d, %s): %s", pids[i], FormatCpuList(mask),
                                    strerror(errno)));
              }
            }
          }
          return absl::OkStatus();
        } else if constexpr (std::is_same_v<T, op::SpawnHost>) {
          return SpawnWork("", o.work, scope);
        } else if constexpr (std::is_same_v<T, op::MoveAllTasks>) {
          absl::StatusOr<LiveCgroup*> from = Find(o.from), to = Find(o.to);
          if (!from.ok()) return from.status();
          if (!to.ok()) return to.status();
          if (absl::Status s = ctx_.cgroups->MoveAllTasks(o.from, o.to); !s.ok()) return s;
          for (Batch& b : (*from)->batches) (*to)->batches.push_back(std::move(b));
          (*from)->batches.clear();
          (*to)->allowed = CpuUnion((*to)->allowed, (*from)->allowed);
          (*to)->unrestricted = (*to)->unrestricted || (*from)->unrestricted;
          return absl::OkStatus();
        } else if constexpr (std::is_same_v<T, op::RunPayload>) {
          return payloads_.Start(o.name, o.cgroup, o.binary, o.args, scope, [&](pid_t pid) {
            return o.cgroup.empty() ? absl::OkStatus() : ctx_.cgroups->MoveTask(o.cgroup, pid);
          });
        } else if constexpr (std::is_same_v<T, op::WaitPayload>) {
          return WaitPayload(o.name, o.cgroup);
        } else {
          static_assert(std::is_same_v<T, op::KillPayload>);
          return payloads_.Kill(o.name, o.cgroup);
        }
      },
      op);
}

absl::Status Runner::Setup(const CgroupDef& def, int scope) {
  if (absl::Status s = AddCgroup(def.name(), scope); !s.ok()) return s;
  if (def.cpuset().has_value()) {
    absl::StatusOr<CpuSet> cpus = def.cpuset()->Resolve(ctx_.topo);
    if (!cpus.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("cgroup '", def.name(), "' cpuset ",
                                                     def.cpuset()->ToString(), ": ",
                                                     cpus.status().message()));
    }
    if (absl::Status s = SetCpus(def.name(), *cpus); !s.ok()) return s;
  }
  for (const Work& w : def.works()) {
    if (absl::Status s = SpawnWork(def.name(), w, scope); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Runner::EndScope(int scope) {
  StopBatches([&](const std::string&, const Batch& b) { return b.scope == scope; });
  payloads_.KillScope(scope);
  std::vector<std::string> mine;
  for (const auto& [name, cg] : cgroups_)
    if (cg.scope == scope) mine.push_back(name);
  std::sort(mine.begin(), mine.end(),
            [](const std::string& a, const std::string& b) { return Depth(a) > Depth(b); });
  for (const std::string& name : mine) {
    if (!cgroups_.count(name)) continue;
    if (absl::Status s = RemoveCgroup(name, scope); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Runner::Hold(Clock::time_point deadline, const std::vector<Op>* loop_ops,
                                  std::chrono::milliseconds interval, int scope, int step_index) {
  Clock::time_point next = Clock::now() + interval;
  for (;;) {
    if (g_interrupted) return absl::CancelledError("interrupted (SIGINT/SIGTERM)");
    if (!ctx_.SchedulerAlive()) {
      const auto at = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_);
      extra_.AddFailure(DetailKind::kSchedulerDied,
                        absl::StrFormat("scheduler (pid %d) died during step %d at +%dms",
                                        ctx_.sched_pid.value_or(-1), step_index, at.count()));
      return false;
    }
    const Clock::time_point now = Clock::now();
    if (now >= deadline) return true;
    if (loop_ops != nullptr && now >= next) {
      for (const Op& op : *loop_ops) {
        if (absl::Status s = Apply(op, scope); !s.ok()) return s;
      }
      next += interval;
    }
    Clock::time_point wake = std::min(deadline, now + config::kHoldPoll);
    if (loop_ops != nullptr) wake = std::min(wake, next);
    std::this_thread::sleep_until(wake);
  }
}

absl::StatusOr<AssertResult> Runner::Run(Backdrop backdrop, std::vector<Step> steps) {
  if (ctx_.cgroups == nullptr) return absl::FailedPreconditionError("ctx has no cgroup manager");
  for (const Step& s : steps) {
    if (absl::Status st = s.hold.Validate(); !st.ok()) return st;
  }
  if (ctx_.settle.count() > 0) std::this_thread::sleep_for(ctx_.settle);
  start_ = Clock::now();
  const uint64_t migrated_before = NumaPagesMigrated(ReadProcText("/proc/vmstat"));
  const Clock::time_point end = start_ + ctx_.duration;
  for (const Op& op : backdrop.ops) {
    if (absl::Status s = Apply(op, kBackdropScope); !s.ok()) return s;
  }
  for (const CgroupDef& d : backdrop.defs) {
    if (absl::Status s = Setup(d, kBackdropScope); !s.ok()) return s;
  }
  for (int i = 0; i < static_cast<int>(steps.size()); ++i) {
    const Step& step = steps[i];
    if (!ctx_.SchedulerAlive()) {
      extra_.AddFailure(DetailKind::kSchedulerDied,
                        absl::StrFormat("scheduler (pid %d) died before step %d",
                                        ctx_.sched_pid.value_or(-1), i));
      break;
    }
    const Clock::time_point step_start = Clock::now();
    for (const Op& op : step.ops) {
      if (absl::Status s = Apply(op, i); !s.ok()) return s;
    }
    std::vector<CgroupDef> defs = step.defs;
    if (step.factory) {
      std::vector<CgroupDef> more = step.factory(ctx_);
      defs.insert(defs.end(), more.begin(), more.end());
    }
    for (const CgroupDef& d : defs) {
      if (absl::Status s = Setup(d, i); !s.ok()) return s;
    }
    Clock::time_point deadline;
    switch (step.hold.kind) {
      case HoldSpec::Kind::kFrac:
        deadline = step_start +
                   std::chrono::duration_cast<Clock::duration>(ctx_.duration * step.hold.frac);
        break;
      case HoldSpec::Kind::kFixed:
        deadline = step_start + step.hold.fixed;
        break;
      case HoldSpec::Kind::kLoop:
        deadline = std::max(end, step_start + step.hold.interval);
        break;
    }
    const bool loop = step.hold.kind == HoldSpec::Kind::kLoop;
    absl::StatusOr<bool> alive =
        Hold(deadline, loop ? &step.ops : nullptr, step.hold.interval, i, i);
    if (!alive.ok()) return alive.status();
    if (absl::Status s = EndScope(i); !s.ok()) return s;
    if (!*alive) break;
  }
  if (absl::Status s = EndScope(kBackdropScope); !s.ok()) return s;
  std::vector<CgroupReports> groups;
  for (const std::string& name : order_) groups.push_back(std::move(collected_[name]));
  NumaFacts numa;
  for (const CpuInfo& c : ctx_.topo.cpus()) numa.node_of_cpu[c.cpu] = c.node;
  numa.memory_only_nodes = MemoryOnlyNodes();
  const uint64_t migrated_after = NumaPagesMigrated(ReadProcText("/proc/vmstat"));
  numa.pages_migrated = migrated_after > migrated_before ? migrated_after - migrated_before : 0;
  AssertResult result = Evaluate(groups, checks_, numa);
  result.Merge(extra_);
  if (!ctx_.SchedulerAlive() && extra_.passed) {
    result.AddFailure(DetailKind::kSchedulerDied,
                      absl::StrFormat("scheduler (pid %d) died by the end of the scenario",
                                      ctx_.sched_pid.value_or(-1)));
  }
  // A dead scheduler is the cause; the unfairness or gaps it left behind are symptoms. The
  // first detail is what a reader (and the client's one-line reason) sees, so it leads.
  std::stable_partition(result.details.begin(), result.details.end(),
                        [](const AssertDetail& d) { return d.kind == DetailKind::kSchedulerDied; });
  return result;
}

void Runner::Abandon() {
  // Error or normal end: nothing may outlive the runner. Killing (WorkerSet's destructor)
  // before rmdir, deepest cgroups first.
  host_.batches.clear();
  for (auto& [name, cg] : cgroups_) cg.batches.clear();
  payloads_.KillAll();
  std::vector<std::string> names;
  for (const auto& [name, cg] : cgroups_) names.push_back(name);
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return Depth(a) > Depth(b); });
  for (const std::string& name : names) {
    absl::Status s = ctx_.cgroups->Remove(name);
    if (!s.ok()) spdlog::error("removing cgroup {}: {}", name, s.ToString());
  }
  cgroups_.clear();
}

}  // namespace

absl::StatusOr<AssertResult> execute_scenario(const Ctx& ctx, Backdrop backdrop,
                                              std::vector<Step> steps, const Assert* checks) {
  Runner runner(ctx, checks ? *checks : ctx.checks);
  return runner.Run(std::move(backdrop), std::move(steps));
}

absl::StatusOr<AssertResult> execute_steps_with(const Ctx& ctx, std::vector<Step> steps,
                                                const Assert* checks) {
  return execute_scenario(ctx, Backdrop{}, std::move(steps), checks);
}

absl::StatusOr<AssertResult> execute_steps(const Ctx& ctx, std::vector<Step> steps) {
  return execute_steps_with(ctx, std::move(steps), nullptr);
}

absl::StatusOr<AssertResult> execute_defs(const Ctx& ctx, std::vector<CgroupDef> defs) {
  std::vector<Step> steps;
  steps.push_back(Step::WithDefs(std::move(defs), HoldSpec::Full()));
  return execute_steps(ctx, std::move(steps));
}

}  // namespace ktstr
