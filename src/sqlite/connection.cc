// sqlite/connection.cc: opening store files and naming their errors.
#include "sqlite/connection.h"

namespace edgelab::sqlite {

Status Error(sqlite3* db, int rc, std::string_view label, const std::string& path,
             std::string_view what) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string msg = std::string(label) + " '" + path + "': " + std::string(what) + ": " + detail +
                    " (sqlite code " + std::to_string(rc) + ")";
  const int primary = rc & 0xff;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return Status::Corruption(msg);
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Status::Unavailable(std::string(label) + " '" + path +
                               "' is in use by another process (another edgelab serving the same "
                               "--data folder?): " +
                               std::string(what));
  }
  return Status::IOError(std::move(msg));
}

Status OpenReadWrite(const std::string& path, std::string_view label, sqlite3** db) {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), db, flags, nullptr);
  if (rc != SQLITE_OK) {
    return Error(*db, rc, label, path,
                 "cannot open (does the directory exist and is it writable?)");
  }
  sqlite3_extended_result_codes(*db, 1);
  if (sqlite3_db_readonly(*db, "main") == 1) {
    return Status::IOError(std::string(label) + " '" + path + "': the file is read-only");
  }
  return Status::OK();
}

Status UseWal(sqlite3* db, std::string_view label, const std::string& path) {
  std::string mode;
  auto keep_mode = [](void* out, int, char** values, char**) {
    *static_cast<std::string*>(out) = values[0] != nullptr ? values[0] : "";
    return 0;
  };
  int rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", keep_mode, &mode, nullptr);
  if (rc != SQLITE_OK) return Error(db, rc, label, path, "cannot switch to WAL mode");
  if (mode != "wal") {
    return Status::IOError(std::string(label) + " '" + path +
                           "': WAL mode refused (journal mode '" + mode +
                           "'); is the file on a network file system?");
  }
  rc = sqlite3_exec(db, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(db, rc, label, path, "cannot set synchronous=NORMAL");
  return Status::OK();
}

}  // namespace edgelab::sqlite
