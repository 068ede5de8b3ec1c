// runtime/toml_reader.cc: see toml_reader.h.
#include "runtime/toml_reader.h"

#include <sstream>

namespace edgelab::runtime {

Result<toml::table> TomlReader::Parse(const std::string& path, std::string_view text) {
  // Debian's toml++ is built with exceptions: parse errors throw, and stop here.
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.source().begin.line) + ":" +
                                   std::to_string(e.source().begin.column) + ": " +
                                   std::string(e.description()));
  }
}

Status TomlReader::Error(const toml::node* node, std::string_view key, std::string_view msg) const {
  return Error(node != nullptr ? &node->source() : nullptr, key, msg);
}

Status TomlReader::Error(const toml::source_region* where, std::string_view key,
                         std::string_view msg) const {
  std::ostringstream out;
  out << path_;
  if (where != nullptr && where->begin) {
    out << ":" << where->begin.line << ":" << where->begin.column;
  }
  out << ": " << key << ": " << msg;
  return Status::InvalidArgument(out.str());
}

Status TomlReader::OnlyKnownKeys(const toml::table& table, std::string_view where,
                                 const std::set<std::string_view>& known) const {
  for (const auto& [k, unused] : table) {
    if (known.count(k.str()) == 0) {
      std::string all;
      for (auto name : known) all += (all.empty() ? "" : ", ") + std::string(name);
      return Error(&k.source(), std::string(where) + std::string(k.str()),
                   "unknown key (known here: " + all + ")");
    }
  }
  return Status::OK();
}

Status TomlReader::String(const toml::table& t, std::string_view key, std::string_view where,
                          std::string* out) const {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::OK();
  if (!n->is_string()) return Error(n, std::string(where) + std::string(key), "must be a string");
  *out = **n->as_string();
  return Status::OK();
}

Status TomlReader::Int(const toml::table& t, std::string_view key, std::string_view where,
                       int64_t lo, int64_t hi, int64_t* out) const {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::OK();
  const std::string full = std::string(where) + std::string(key);
  if (!n->is_integer()) return Error(n, full, "must be an integer");
  const int64_t v = **n->as_integer();
  if (v < lo || v > hi) {
    return Error(n, full, "must be in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  *out = v;
  return Status::OK();
}

Status TomlReader::Uint(const toml::table& t, std::string_view key, std::string_view where,
                        uint32_t lo, uint32_t hi, uint32_t* out) const {
  int64_t v = *out;
  EDGELAB_RETURN_IF_ERROR(Int(t, key, where, lo, hi, &v));
  *out = static_cast<uint32_t>(v);
  return Status::OK();
}

Status TomlReader::Bool(const toml::table& t, std::string_view key, std::string_view where,
                        bool* out) const {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::OK();
  if (!n->is_boolean()) {
    return Error(n, std::string(where) + std::string(key), "must be true or false");
  }
  *out = **n->as_boolean();
  return Status::OK();
}

}  // namespace edgelab::runtime
