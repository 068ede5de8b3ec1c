// sqlite/statement.h: the two pieces every SQLite-backed store here uses: an
// owning handle for a prepared statement, and one use of a cached statement
// (bind, step, reset), so that a statement never keeps a lock, a bound
// pointer or a half-read row past the call that used it.
//
// Threading: as the connection the statement belongs to (the stores guard
// theirs with a mutex). Failure: the first bind error is kept and returned by
// Step() instead of stepping, so a caller checks one result code.
#ifndef EDGELAB_SQLITE_STATEMENT_H_
#define EDGELAB_SQLITE_STATEMENT_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string_view>

namespace edgelab::sqlite {

struct StmtDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

// One use of a cached statement: collects the first bind error, and resets
// the statement on scope exit so it holds no lock or pointer afterwards.
class Use {
 public:
  explicit Use(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  // SQLITE_STATIC: the bytes must live until the statement is reset.
  // A null pointer would bind SQL NULL, so empty bytes point at "".
  void Bind(int i, std::string_view bytes) {
    const char* p = bytes.empty() ? "" : bytes.data();
    Keep(sqlite3_bind_blob64(stmt_, i, p, bytes.size(), SQLITE_STATIC));
  }
  void BindText(int i, std::string_view text) {
    Keep(sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  void Bind(int i, int64_t n) { Keep(sqlite3_bind_int64(stmt_, i, n)); }
  int Step() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(stmt_); }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  void Keep(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  sqlite3_stmt* const stmt_;
  int bind_rc_ = SQLITE_OK;
};

}  // namespace edgelab::sqlite

#endif  // EDGELAB_SQLITE_STATEMENT_H_
