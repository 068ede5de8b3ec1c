// sim/scenario.cc: scenario files, parsed with toml++ as strictly as
// edge.toml: unknown keys and wrong types are errors naming the line.
#include "sim/scenario.h"

#include <fstream>
#include <sstream>

#include "runtime/toml_reader.h"

namespace edgelab::sim {
namespace {

class Parser : public runtime::TomlReader {
 public:
  using TomlReader::TomlReader;

  Status Parse(const toml::table& root, Scenario* s) const {
    EDGELAB_RETURN_IF_ERROR(OnlyKnownKeys(
        root, "", {"requests", "concurrency", "verify", "races", "linearizable", "request"}));
    int64_t v = static_cast<int64_t>(s->requests);
    EDGELAB_RETURN_IF_ERROR(Int(root, "requests", "", 1, 1'000'000'000, &v));
    s->requests = static_cast<uint64_t>(v);
    v = s->concurrency;
    EDGELAB_RETURN_IF_ERROR(Int(root, "concurrency", "", 1, kMaxConcurrency, &v));
    s->concurrency = static_cast<uint32_t>(v);
    EDGELAB_RETURN_IF_ERROR(String(root, "verify", "", &s->verify_path));
    if (!s->verify_path.empty() && s->verify_path[0] != '/') {
      return Error(root.get("verify"), "verify", "must be a path starting with /");
    }
    EDGELAB_RETURN_IF_ERROR(Bool(root, "races", "", &s->races));
    EDGELAB_RETURN_IF_ERROR(Bool(root, "linearizable", "", &s->linearizable));
    const toml::node* n = root.get("request");
    if (n == nullptr) return Status::OK();
    if (!n->is_array_of_tables() || n->as_array()->empty()) {
      return Error(n, "request", "must be [[request]] tables");
    }
    s->mix.clear();
    for (const toml::node& item : *n->as_array()) {
      const toml::table& t = *item.as_table();
      EDGELAB_RETURN_IF_ERROR(
          OnlyKnownKeys(t, "request.", {"method", "path", "body", "location", "weight"}));
      RequestTemplate r;
      EDGELAB_RETURN_IF_ERROR(String(t, "method", "request.", &r.method));
      EDGELAB_RETURN_IF_ERROR(String(t, "path", "request.", &r.path));
      EDGELAB_RETURN_IF_ERROR(String(t, "body", "request.", &r.body));
      EDGELAB_RETURN_IF_ERROR(String(t, "location", "request.", &r.location));
      int64_t w = 1;
      EDGELAB_RETURN_IF_ERROR(Int(t, "weight", "request.", 1, 1'000'000, &w));
      r.weight = static_cast<uint32_t>(w);
      if (r.method.empty()) return Error(t.get("method"), "request.method", "must not be empty");
      if (r.path.empty() || r.path[0] != '/') {
        return Error(t.get("path"), "request.path", "must be a path starting with /");
      }
      s->mix.push_back(std::move(r));
    }
    return Status::OK();
  }

 private:
  std::string path_;
};

}  // namespace

const RequestTemplate& Scenario::Pick(uint64_t i) const {
  uint64_t total = 0;
  for (const RequestTemplate& t : mix) total += t.weight;
  uint64_t at = i % total;
  for (const RequestTemplate& t : mix) {
    if (at < t.weight) return t;
    at -= t.weight;
  }
  return mix.back();
}

Result<Scenario> ParseScenario(const std::string& path, std::string_view text) {
  EDGELAB_ASSIGN_OR_RETURN(toml::table root, runtime::TomlReader::Parse(path, text));
  Scenario s;
  EDGELAB_RETURN_IF_ERROR(Parser(path).Parse(root, &s));
  return s;
}

Result<Scenario> LoadScenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open the scenario file");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseScenario(path, text.str());
}

}  // namespace edgelab::sim
