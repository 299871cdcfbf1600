#include "daemon/testing/ktstrd_harness.h"

#include <sqlite3.h>
#include <sys/wait.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "daemon/fs_util.h"

namespace ktstr::daemon::testing {

int RunClient(const std::string& socket, const std::string& tmp_dir,
              const std::vector<std::string>& args, std::string* out, std::string* err) {
  const std::string o = tmp_dir + "/client.out", e = tmp_dir + "/client.err";
  std::string cmd = absl::StrCat("client/ktstr-client --socket ", socket, " --no-autostart");
  for (const auto& a : args) absl::StrAppend(&cmd, " '", a, "'");
  absl::StrAppend(&cmd, " >", o, err ? absl::StrCat(" 2>", e) : std::string(" 2>&1"));
  int status = system(cmd.c_str());
  *out = ReadFileToString(o).value_or("");
  if (err) *err = ReadFileToString(e).value_or("");
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int StoredVerdict(const std::string& results_db, const std::string& test_name) {
  sqlite3* db;
  int kind = -1;
  if (sqlite3_open_v2(results_db.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return kind;
  }
  sqlite3_stmt* q = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT verdict_kind FROM jobs WHERE test_name = ? ORDER BY rowid DESC",
                         -1, &q, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(q, 1, test_name.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) == SQLITE_ROW) kind = sqlite3_column_int(q, 0);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  return kind;
}

}  // namespace ktstr::daemon::testing
