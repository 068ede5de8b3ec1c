// runtime/toml_reader.h: strict reading of a TOML file's tables, shared by
// edge.toml (config.h) and `edgelab test`'s scenario files
// (sim/scenario.h). Strict by design: unknown keys and wrong types are
// errors that point at the line.
//
// Failure: every problem is kInvalidArgument "<file>:<line>:<col>: <key>:
// <what is wrong>" (no line when the node is unknown). A getter leaves
// `*out` alone when the key is absent.
// Threading: plain values.
#ifndef EDGELAB_RUNTIME_TOML_READER_H_
#define EDGELAB_RUNTIME_TOML_READER_H_

#include <toml++/toml.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "base/status.h"

namespace edgelab::runtime {

class TomlReader {
 public:
  // `path` names the file in messages.
  explicit TomlReader(std::string path) : path_(std::move(path)) {}

  // Parses `text`; a syntax error names the file, line and column.
  static Result<toml::table> Parse(const std::string& path, std::string_view text);

  Status Error(const toml::node* node, std::string_view key, std::string_view msg) const;
  Status Error(const toml::source_region* where, std::string_view key, std::string_view msg) const;
  // Fails on any key of `table` not in `known` (naming the known ones).
  // `where` prefixes keys in messages ("kv_namespaces.").
  Status OnlyKnownKeys(const toml::table& table, std::string_view where,
                       const std::set<std::string_view>& known) const;
  Status String(const toml::table& t, std::string_view key, std::string_view where,
                std::string* out) const;
  // An integer in [lo, hi].
  Status Int(const toml::table& t, std::string_view key, std::string_view where, int64_t lo,
             int64_t hi, int64_t* out) const;
  Status Uint(const toml::table& t, std::string_view key, std::string_view where, uint32_t lo,
              uint32_t hi, uint32_t* out) const;
  Status Bool(const toml::table& t, std::string_view key, std::string_view where, bool* out) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace edgelab::runtime

#endif  // EDGELAB_RUNTIME_TOML_READER_H_
