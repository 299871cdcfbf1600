// RAII over a prepared SQLite statement with typed binds, for result_store.cc.
#ifndef KTSTR_DAEMON_SQLITE_STMT_H_
#define KTSTR_DAEMON_SQLITE_STMT_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ktstr::daemon {

class SqliteStmt {
 public:
  SqliteStmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~SqliteStmt() { sqlite3_finalize(stmt_); }
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;

  absl::Status prepare_status() const {
    return rc_ == SQLITE_OK ? absl::OkStatus()
                            : absl::InternalError(absl::StrCat("sqlite prepare: ",
                                                               sqlite3_errmsg(db_)));
  }
  SqliteStmt& Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); return *this; }
  SqliteStmt& Bind(int i, double v) { sqlite3_bind_double(stmt_, i, v); return *this; }
  SqliteStmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  SqliteStmt& BindBlob(int i, const std::string& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // true = a row is available; false = done. Errors land in status().
  bool Step() {
    rc_ = sqlite3_step(stmt_);
    return rc_ == SQLITE_ROW;
  }
  absl::Status Run() {
    if (absl::Status s = prepare_status(); !s.ok()) return s;
    Step();
    return status();
  }
  absl::Status status() const {
    return (rc_ == SQLITE_DONE || rc_ == SQLITE_ROW || rc_ == SQLITE_OK)
               ? absl::OkStatus()
               : absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db_)));
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string Text(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(static_cast<const char*>(p), n) : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_SQLITE_STMT_H_
