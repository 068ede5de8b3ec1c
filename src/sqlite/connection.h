// sqlite/connection.h: opening a store's SQLite file the way every store
// here does (read-write, created when missing, extended result codes, WAL
// with synchronous=NORMAL), and SQLite errors as Status values that name the
// file. `label` is what the file is to the user ("kv store", "objects
// store"); messages read "<label> '<path>': <what>: <SQLite's message>".
//
// Threading: plain functions on a connection the caller owns and guards.
#ifndef EDGELAB_SQLITE_CONNECTION_H_
#define EDGELAB_SQLITE_CONNECTION_H_

#include <sqlite3.h>

#include <string>
#include <string_view>

#include "base/status.h"

namespace edgelab::sqlite {

// kCorruption for a corrupt file or one that is not a database, kUnavailable
// when another process holds the file (busy or locked), kIOError for
// everything else, naming label, path, `what` and SQLite's message for `rc`.
Status Error(sqlite3* db, int rc, std::string_view label, const std::string& path,
             std::string_view what);

// Opens `path` into *db (which the caller closes with sqlite3_close_v2 even
// on failure). NOMUTEX: the caller serializes every use of the connection.
// kIOError when it cannot be opened, or opens read-only (SQLite does that
// silently for a file without write permission).
Status OpenReadWrite(const std::string& path, std::string_view label, sqlite3** db);

// Switches to WAL with synchronous=NORMAL: a commit that returned survives a
// crash of the process; after an OS crash, commits since the last checkpoint
// may be lost. kIOError (naming the file) when the file system refuses WAL.
Status UseWal(sqlite3* db, std::string_view label, const std::string& path);

}  // namespace edgelab::sqlite

#endif  // EDGELAB_SQLITE_CONNECTION_H_
