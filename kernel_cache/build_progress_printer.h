// Shows kernel-build progress (kernel_builder.h's ProgressFn) on stderr: on a terminal one
// line rewritten in place, in a log (CI) one line per phase change and every 15 s while
// compiling, so a 20-to-45-minute build neither floods a CI log nor looks hung.
#ifndef KTSTR_KERNEL_CACHE_BUILD_PROGRESS_PRINTER_H_
#define KTSTR_KERNEL_CACHE_BUILD_PROGRESS_PRINTER_H_

#include <string>

#include "kernel_cache/kernel_builder.h"

namespace ktstr::kcache {

// "[compile 3m12s] [#########.....................] 30% CC kernel/sched/ext.o": phase,
// elapsed, a bar when the total is known (else the count of objects), the last make line.
std::string FormatBuildProgress(const BuildProgress& p);

// A ProgressFn printing FormatBuildProgress lines to stderr as described above.
ProgressFn StderrBuildProgressPrinter();

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_BUILD_PROGRESS_PRINTER_H_
