// The gauntlet's closing table: one row per test/profile (and kernel, when several), one
// column per preset, a cell per job. Built from the run's jobs and their labels alone, so a
// stored gauntlet run reads the same.
//
//   test/profile          tiny-1llc tiny-2llc odd-3llc
//   steady/default        PASS      PASS      -
//   two_groups/llc        FAIL      ERR       SKIP
#ifndef KTSTR_CLIENT_GAUNTLET_MATRIX_H_
#define KTSTR_CLIENT_GAUNTLET_MATRIX_H_

#include <string>

#include "proto/ktstr/v1/run.pb.h"

namespace ktstr::client {

// What a cell says about one job.
enum class MatrixCell {
  kPass,     // PASS
  kFail,     // the test, the scheduler or the guest kernel failed: FAIL, TIMEOUT, CRASH,
             // SCHED_DIED, NOT_ATTACHED, EJECTED
  kSkip,     // SKIP
  kError,    // no verdict about the scheduler: ktstr's own error, cancelled, interrupted
  kPending,  // not finished
};

MatrixCell CellOf(const ktstr::v1::Job& job);
// "PASS", "FAIL", "SKIP", "ERR", "..."; "-" marks a combination the gauntlet did not make.
const char* CellWord(MatrixCell cell);

// The table for a run's gauntlet jobs (label gauntlet=1; others are ignored); "" when none.
// Columns are the presets that have a job, in vmm::AllPresets() order. Rows are prefixed with
// the binary when the run has several.
std::string FormatGauntletMatrix(const ktstr::v1::Run& run);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_GAUNTLET_MATRIX_H_
