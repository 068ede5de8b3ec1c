// runtime/config.cc: edge.toml parsing with toml++. Strict by design: unknown
// keys and wrong types are errors that point at the line.
#include "runtime/config.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "runtime/toml_reader.h"

namespace edgelab::runtime {
namespace {

namespace fs = std::filesystem;

// More would be a typo or a generator gone wrong: each location keeps a
// cache and costs every write one random draw.
constexpr size_t kMaxLocations = 1000;

class Parser : public TomlReader {
 public:
  using TomlReader::TomlReader;

  Status Number(const toml::table& t, std::string_view key, std::string_view where,
                double* out) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return Status::OK();
    std::string full = std::string(where) + std::string(key);
    if (!n->is_number()) return Error(n, full, "must be a number");
    double v = n->value<double>().value_or(0);
    if (!std::isfinite(v) || v < 0 || v > 3'600'000) {
      return Error(n, full, "must be a number from 0 to 3600000 (one hour, in ms)");
    }
    *out = v;
    return Status::OK();
  }

  // One of `choices` at `key` (absent: `*out` stays).
  Status OneOf(const toml::table& t, std::string_view key, std::string_view where,
               const std::vector<std::string_view>& choices, std::string* out) const;

  Status Top(const toml::table& root, Config* c) const;
  Status KvNamespaces(const toml::table& root, Config* c) const;
  Status Limits(const toml::table& root, Config* c) const;
  Status Isolates(const toml::table& root, Config* c) const;
  Status Kv(const toml::table& root, Config* c) const;
  Status Distribution(const toml::table& t, const std::string& where, kv::Latency* out) const;
  Status Locations(const toml::table& root, Config* c) const;
  Status Routing(const toml::table& root, Config* c) const;
  Status Vars(const toml::table& root, Config* c) const;
  Status DurableObjects(const toml::table& root, Config* c) const;
  Status ObjectBindings(const toml::table& dos, Config* c) const;
};

// A sub-table at `key`, or null when absent; an error when not a table.
Result<const toml::table*> SubTable(const Parser& p, const toml::table& t, std::string_view key) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return static_cast<const toml::table*>(nullptr);
  if (!n->is_table()) return p.Error(n, key, "must be a table");
  return n->as_table();
}

Status Parser::Top(const toml::table& root, Config* c) const {
  EDGELAB_RETURN_IF_ERROR(
      OnlyKnownKeys(root, "",
                    {"name", "main", "compatibility_date", "kv_namespaces", "limits", "isolates",
                     "kv", "vars", "durable_objects", "locations", "routing"}));
  EDGELAB_RETURN_IF_ERROR(String(root, "name", "", &c->name));
  std::string main;
  EDGELAB_RETURN_IF_ERROR(String(root, "main", "", &main));
  if (main.empty())
    return Error(static_cast<const toml::node*>(nullptr), "main",
                 "missing: the path of the worker's .wasm module");
  fs::path p(main);
  c->main = (p.is_absolute() ? p : fs::path(c->dir) / p).lexically_normal().string();
  if (c->name.empty()) c->name = fs::absolute(c->path).parent_path().filename().string();
  return Status::OK();
}

Status Parser::KvNamespaces(const toml::table& root, Config* c) const {
  const toml::node* n = root.get("kv_namespaces");
  if (n == nullptr) return Status::OK();
  if (!n->is_array_of_tables())
    return Error(n, "kv_namespaces", "must be [[kv_namespaces]] tables");
  std::set<std::string> seen;
  for (const toml::node& item : *n->as_array()) {
    const toml::table& t = *item.as_table();
    EDGELAB_RETURN_IF_ERROR(OnlyKnownKeys(t, "kv_namespaces.", {"binding", "id", "consistency"}));
    KvNamespaceConfig kv;
    EDGELAB_RETURN_IF_ERROR(String(t, "binding", "kv_namespaces.", &kv.binding));
    EDGELAB_RETURN_IF_ERROR(String(t, "id", "kv_namespaces.", &kv.id));
    std::string consistency = "eventual";
    EDGELAB_RETURN_IF_ERROR(
        OneOf(t, "consistency", "kv_namespaces.", {"eventual", "strong"}, &consistency));
    if (consistency == "strong") kv.consistency = kv::Consistency::kStrong;
    if (kv.binding.empty()) return Error(&item, "kv_namespaces.binding", "missing");
    if (kv.id.empty()) kv.id = kv.binding;
    if (!seen.insert(kv.binding).second) {
      return Error(&item, "kv_namespaces.binding", "duplicate binding \"" + kv.binding + "\"");
    }
    c->kv_namespaces.push_back(std::move(kv));
  }
  return Status::OK();
}

Status Parser::Limits(const toml::table& root, Config* c) const {
  EDGELAB_ASSIGN_OR_RETURN(const toml::table* t, SubTable(*this, root, "limits"));
  if (t == nullptr) return Status::OK();
  EDGELAB_RETURN_IF_ERROR(OnlyKnownKeys(*t, "limits.", {"cpu_ms", "memory_mb"}));
  EDGELAB_RETURN_IF_ERROR(Uint(*t, "cpu_ms", "limits.", 1, 300'000, &c->cpu_ms));
  return Uint(*t, "memory_mb", "limits.", 1, 4096, &c->memory_mb);
}

Status Parser::Isolates(const toml::table& root, Config* c) const {
  EDGELAB_ASSIGN_OR_RETURN(const toml::table* t, SubTable(*this, root, "isolates"));
  if (t == nullptr) return Status::OK();
  EDGELAB_RETURN_IF_ERROR(OnlyKnownKeys(*t, "isolates.", {"min", "max"}));
  EDGELAB_RETURN_IF_ERROR(Uint(*t, "min", "isolates.", 0, 10'000, &c->isolates_min));
  EDGELAB_RETURN_IF_ERROR(Uint(*t, "max", "isolates.", 1, 10'000, &c->isolates_max));
  if (c->isolates_min > c->isolates_max) {
    return Error(t, "isolates",
                 "min (" + std::to_string(c->isolates_min) + ") is above max (" +
                     std::to_string(c->isolates_max) + ")");
  }
  return Status::OK();
}

Status Parser::OneOf(const toml::table& t, std::string_view key, std::string_view where,
                     const std::vector<std::string_view>& choices, std::string* out) const {
  std::string value = *out;
  EDGELAB_RETURN_IF_ERROR(String(t, key, where, &value));
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) {
    *out = std::move(value);
    return Status::OK();
  }
  std::string all;
  for (std::string_view choice : choices) all += (all.empty() ? "" : ", ") + std::string(choice);
  return Error(t.get(key), std::string(where) + std::string(key),
               "\"" + value + "\" is not one of " + all);
}

Status Parser::Kv(const toml::table& root, Config* c) const {
  EDGELAB_ASSIGN_OR_RETURN(const toml::table* kv, SubTable(*this, root, "kv"));
  if (kv == nullptr) return Status::OK();
  EDGELAB_RETURN_IF_ERROR(OnlyKnownKeys(*kv, "kv.", {"latency", "propagation", "cache_ttl_ms"}));
  if (const toml::node* n = kv->get("cache_ttl_ms"); n != nullptr) {
    if (!n->is_integer() || **n->as_integer() < 0) {
      return Error(n, "kv.cache_ttl_ms", "must be an integer >= 0 (milliseconds; 0: no caching)");
    }
    c->kv_cache_ttl_ms = **n->as_integer();
  }
  EDGELAB_ASSIGN_OR_RETURN(const toml::table* latency, SubTable(*this, *kv, "latency"));
  if (latency != nullptr) {
    EDGELAB_RETURN_IF_ERROR(Distribution(*latency, "kv.latency", &c->kv_latency));
  }
  EDGELAB_ASSIGN_OR_RETURN(const toml::table* propagation, SubTable(*this, *kv, "propagation"));
  if (propagation != nullptr) {
    EDGELAB_RETURN_IF_ERROR(Distribution(*propagation, "kv.propagation", &c->kv_propagation));
  }
  return Status::OK();
}

// A delay distribution at table `t` (named `where`): what [kv.latency] and
// [kv.propagation] share. Replaces `*out` whole.
Status Parser::Distribution(const toml::table& t, const std::string& where,
                            kv::Latency* out) const {
  const std::string w = where + ".";
  std::string dist = "fixed";
  EDGELAB_RETURN_IF_ERROR(String(t, "dist", w, &dist));
  kv::Latency l;
  using D = kv::Latency::Dist;
  if (dist == "fixed") {
    EDGELAB_RETURN_IF_ERROR(OnlyKnownKeys(t, w, {"dist", "ms"}));
    EDGELAB_RETURN_IF_ERROR(Number(t, "ms", w, &l.ms));
    l.dist = l.ms > 0 ? D::kFixed : D::kNone;
  } else if (dist == "uniform") {
    EDGELAB_RETURN_IF_ERROR(OnlyKnownKeys(t, w, {"dist", "min_ms", "max_ms"}));
    EDGELAB_RETURN_IF_ERROR(Number(t, "min_ms", w, &l.min_ms));
    EDGELAB_RETURN_IF_ERROR(Number(t, "max_ms", w, &l.max_ms));
    if (l.max_ms < l.min_ms) return Error(&t, where, "max_ms is below min_ms");
    l.dist = D::kUniform;
  } else if (dist == "lognormal") {
    EDGELAB_RETURN_IF_ERROR(OnlyKnownKeys(t, w, {"dist", "median_ms", "sigma"}));
    EDGELAB_RETURN_IF_ERROR(Number(t, "median_ms", w, &l.median_ms));
    EDGELAB_RETURN_IF_ERROR(Number(t, "sigma", w, &l.sigma));
    l.dist = D::kLogNormal;
  } else {
    return Error(t.get("dist"), w + "dist",
                 "\"" + dist + "\" is not one of fixed, uniform, lognormal");
  }
  *out = l;
  return Status::OK();
}

// Whether `name` can name a location: 1..32 of [A-Za-z0-9_-] (it shows in
// logs and in the routing header, so nothing that needs quoting).
bool ValidLocationName(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
  });
}

Status Parser::Locations(const toml::table& root, Config* c) const {
  const toml::node* n = root.get("locations");
  if (n == nullptr) return Status::OK();
  if (!n->is_array_of_tables()) return Error(n, "locations", "must be [[locations]] tables");
  const toml::array& items = *n->as_array();
  if (items.size() > kMaxLocations) {
    return Error(n, "locations",
                 std::to_string(items.size()) + " locations; at most " +
                     std::to_string(kMaxLocations) + " (the edge has about 300)");
  }
  std::vector<LocationConfig> locations;
  std::set<std::string, std::less<>> seen;
  for (const toml::node& item : items) {
    const toml::table& t = *item.as_table();
    EDGELAB_RETURN_IF_ERROR(OnlyKnownKeys(t, "locations.", {"name", "weight"}));
    LocationConfig l;
    EDGELAB_RETURN_IF_ERROR(String(t, "name", "locations.", &l.name));
    if (t.get("name") == nullptr) return Error(&item, "locations.name", "missing");
    if (!ValidLocationName(l.name)) {
      return Error(t.get("name"), "locations.name",
                   "\"" + l.name + "\" must be 1 to 32 characters of A-Z, a-z, 0-9, _ and -");
    }
    if (!seen.insert(l.name).second) {
      return Error(t.get("name"), "locations.name", "duplicate location \"" + l.name + "\"");
    }
    if (const toml::node* w = t.get("weight"); w != nullptr) {
      const double weight = w->is_number() ? w->value<double>().value_or(0) : 0;
      if (!w->is_number() || !std::isfinite(weight) || weight <= 0) {
        return Error(w, "locations.weight", "must be a positive number");
      }
      l.weight = weight;
    }
    locations.push_back(std::move(l));
  }
  c->locations = std::move(locations);
  return Status::OK();
}

// Whether `name` is an HTTP header name (RFC 9110 token).
bool ValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
  });
}

Status Parser::Routing(const toml::table& root, Config* c) const {
  EDGELAB_ASSIGN_OR_RETURN(const toml::table* t, SubTable(*this, root, "routing"));
  if (t == nullptr) return Status::OK();
  EDGELAB_RETURN_IF_ERROR(OnlyKnownKeys(*t, "routing.", {"spread", "header"}));
  std::string spread = "round-robin";
  EDGELAB_RETURN_IF_ERROR(OneOf(*t, "spread", "routing.", {"round-robin", "weighted"}, &spread));
  c->spread = spread == "weighted" ? Config::Spread::kWeighted : Config::Spread::kRoundRobin;
  std::string header = c->location_header;
  EDGELAB_RETURN_IF_ERROR(String(*t, "header", "routing.", &header));
  if (!ValidHeaderName(header)) {
    return Error(t->get("header"), "routing.header",
                 "\"" + header + "\" is not a header name (letters, digits and !#$%&'*+-.^_`|~)");
  }
  for (char& ch : header) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  c->location_header = std::move(header);
  return Status::OK();
}

Status Parser::Vars(const toml::table& root, Config* c) const {
  EDGELAB_ASSIGN_OR_RETURN(const toml::table* t, SubTable(*this, root, "vars"));
  if (t == nullptr) return Status::OK();
  for (const auto& [k, v] : *t) {
    std::string key = "vars." + std::string(k.str());
    std::string text;
    if (v.is_string()) {
      text = **v.as_string();
    } else if (v.is_integer()) {
      text = std::to_string(**v.as_integer());
    } else if (v.is_floating_point()) {
      std::ostringstream out;
      out << **v.as_floating_point();
      text = out.str();
    } else if (v.is_boolean()) {
      text = **v.as_boolean() ? "true" : "false";
    } else {
      return Error(&v, key, "must be a string, number or boolean");
    }
    c->vars.emplace(std::string(k.str()), std::move(text));
  }
  return Status::OK();
}

Status Parser::DurableObjects(const toml::table& root, Config* c) const {
  EDGELAB_ASSIGN_OR_RETURN(const toml::table* t, SubTable(*this, root, "durable_objects"));
  if (t == nullptr) return Status::OK();
  const std::string w = "durable_objects.";
  EDGELAB_RETURN_IF_ERROR(OnlyKnownKeys(
      *t, w,
      {"bindings", "idle_timeout_ms", "alarm_retry_ms", "alarm_max_retries", "max_live_objects"}));
  EDGELAB_RETURN_IF_ERROR(Uint(*t, "idle_timeout_ms", w, 1, 86'400'000, &c->do_idle_timeout_ms));
  EDGELAB_RETURN_IF_ERROR(Uint(*t, "alarm_retry_ms", w, 1, 3'600'000, &c->do_alarm_retry_ms));
  EDGELAB_RETURN_IF_ERROR(Uint(*t, "alarm_max_retries", w, 0, 100, &c->do_alarm_max_retries));
  EDGELAB_RETURN_IF_ERROR(Uint(*t, "max_live_objects", w, 1, 10'000'000, &c->do_max_live_objects));
  return ObjectBindings(*t, c);
}

Status Parser::ObjectBindings(const toml::table& dos, Config* c) const {
  const toml::node* n = dos.get("bindings");
  if (n == nullptr) return Status::OK();
  const std::string w = "durable_objects.bindings.";
  if (!n->is_array_of_tables()) {
    return Error(n, "durable_objects.bindings", "must be [[durable_objects.bindings]] tables");
  }
  std::set<std::string> seen;
  for (const toml::node& item : *n->as_array()) {
    const toml::table& t = *item.as_table();
    EDGELAB_RETURN_IF_ERROR(OnlyKnownKeys(t, w, {"name", "class_name", "script"}));
    ObjectBindingConfig b;
    EDGELAB_RETURN_IF_ERROR(String(t, "name", w, &b.name));
    EDGELAB_RETURN_IF_ERROR(String(t, "class_name", w, &b.class_name));
    EDGELAB_RETURN_IF_ERROR(String(t, "script", w, &b.script));
    if (b.name.empty()) return Error(&item, w + "name", "missing");
    if (b.class_name.empty()) return Error(&item, w + "class_name", "missing");
    if (!seen.insert(b.name).second) {
      return Error(&item, w + "name", "duplicate binding \"" + b.name + "\"");
    }
    if (b.script.empty()) {
      b.script = c->main;
    } else {
      fs::path p(b.script);
      b.script = (p.is_absolute() ? p : fs::path(c->dir) / p).lexically_normal().string();
    }
    for (const ObjectBindingConfig& other : c->durable_objects) {
      if (other.class_name == b.class_name && other.script != b.script) {
        return Error(&item, w + "script",
                     "class \"" + b.class_name + "\" is already implemented by " + other.script +
                         " (bindings of one class share its objects, so they need one module)");
      }
    }
    c->durable_objects.push_back(std::move(b));
  }
  return Status::OK();
}

}  // namespace

Result<Config> ParseConfig(const std::string& path, std::string_view text) {
  EDGELAB_ASSIGN_OR_RETURN(toml::table root, TomlReader::Parse(path, text));
  Config c;
  c.path = path;
  c.dir = fs::path(path).parent_path().string();
  if (c.dir.empty()) c.dir = ".";
  Parser p(path);
  EDGELAB_RETURN_IF_ERROR(p.Top(root, &c));
  EDGELAB_RETURN_IF_ERROR(p.KvNamespaces(root, &c));
  EDGELAB_RETURN_IF_ERROR(p.Limits(root, &c));
  EDGELAB_RETURN_IF_ERROR(p.Isolates(root, &c));
  EDGELAB_RETURN_IF_ERROR(p.Kv(root, &c));
  EDGELAB_RETURN_IF_ERROR(p.Locations(root, &c));
  EDGELAB_RETURN_IF_ERROR(p.Routing(root, &c));
  EDGELAB_RETURN_IF_ERROR(p.Vars(root, &c));
  EDGELAB_RETURN_IF_ERROR(p.DurableObjects(root, &c));
  return c;
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return Status::NotFound(path + ": no such file");
    return Status::IOError(path + ": cannot read");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(path, text.str());
}

}  // namespace edgelab::runtime
