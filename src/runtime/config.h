// runtime/config.h: edge.toml, the worker's configuration, in wrangler's
// names where wrangler has one.
//
//   name = "counter-cas"
//   main = "../../build/examples/counter-cas.wasm"   # relative to edge.toml
//   [[kv_namespaces]]  binding = "EDGE_COUNTER_KV"   id = "counter"
//                      consistency = "eventual"   # or "strong": every read at the origin
//   [limits]    cpu_ms = 50   memory_mb = 128
//   [isolates]  min = 1   max = 64
//   [kv]  cache_ttl_ms = 60000               # how stale a location's cached read may be; 0: none
//   [kv.latency] dist = "fixed" ms = 5      # or uniform min_ms/max_ms,
//                                           # or lognormal median_ms/sigma
//   [kv.propagation] dist = "lognormal" median_ms = 1000 sigma = 0.5   # the default; the
//                                           # same keys as [kv.latency]: how long a write
//                                           # takes to reach the other locations
//   [[locations]]  name = "fra"  weight = 2  # default: one location, "local"; at most
//                                           # 1000; names are 1..32 of [A-Za-z0-9_-],
//                                           # unique; weight > 0 (default 1)
//   [routing]  spread = "round-robin"        # or "weighted" (by location weight)
//              header = "x-edgelab-location" # its value names the location to serve at
//   [vars]  LOCK_SHARDS = "4"               # strings; numbers and booleans as text
//   [durable_objects]  idle_timeout_ms = 10000  alarm_retry_ms = 1000
//                      alarm_max_retries = 6  max_live_objects = 10000
//   [[durable_objects.bindings]]  name = "COUNTER_LOCK"  class_name = "CounterLock"
//                                 script = "../../build/examples/lock.wasm"  # optional
//
// A Durable Object class is named by class_name and implemented by the module
// at `script` (default: the worker's own `main`), which must export do_fetch.
// Bindings with the same class_name reach the same objects, so they must
// name the same module.
// With more than one location, KV is eventually consistent: the rules are
// kv/locations.h's; the runtime picks the location serving each request (the
// routing header when it names one, else by `spread`).
// Failure: every problem is kInvalidArgument "<file>:<line>:<col>: <key>:
// <what is wrong>"; unknown keys are errors naming them (a typo must not be
// silently ignored). Threading: plain values.
#ifndef EDGELAB_RUNTIME_CONFIG_H_
#define EDGELAB_RUNTIME_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "kv/namespace.h"

namespace edgelab::runtime {

struct KvNamespaceConfig {
  std::string binding;
  std::string id;
  kv::Consistency consistency = kv::Consistency::kEventual;  // kStrong: reads at the origin
};

struct LocationConfig {
  std::string name;   // 1..32 characters of [A-Za-z0-9_-], unique
  double weight = 1;  // > 0: the location's share of requests under Spread::kWeighted
};

struct ObjectBindingConfig {
  std::string name;        // the binding the guest opens
  std::string class_name;  // the namespace: objects are per class
  std::string script;      // absolute path of the class's module
};

struct Config {
  std::string path;  // the edge.toml file itself
  std::string dir;   // its folder: relative paths resolve from here
  std::string name;
  std::string main;  // absolute path of the module
  std::vector<KvNamespaceConfig> kv_namespaces;
  uint32_t cpu_ms = 50;      // Workers' default CPU limit is 30 s; 50 ms keeps a runaway loop short
  uint32_t memory_mb = 128;  // Workers' isolate memory limit
  uint32_t isolates_min = 1;
  uint32_t isolates_max = 64;
  kv::Latency kv_latency;
  // The edge locations, in edge.toml's order; never empty.
  std::vector<LocationConfig> locations = {{"local", 1}};
  int64_t kv_cache_ttl_ms = 60'000;  // Workers KV's default cacheTtl; 0: no caching
  // Lognormal, median 1 s, sigma 0.5: 95 % of delays fall in 0.38-2.7 s.
  kv::Latency kv_propagation{kv::Latency::Dist::kLogNormal, 0, 0, 0, 1000, 0.5};
  enum class Spread { kRoundRobin, kWeighted };
  Spread spread = Spread::kRoundRobin;
  // The request header whose value names the location serving the request
  // (lower-cased here: header names compare case-insensitively); requests
  // without it are spread.
  std::string location_header = "x-edgelab-location";
  std::map<std::string, std::string, std::less<>> vars;
  std::vector<ObjectBindingConfig> durable_objects;
  uint32_t do_idle_timeout_ms = 10'000;  // Cloudflare evicts after ~10 s idle
  uint32_t do_alarm_retry_ms = 1'000;
  uint32_t do_alarm_max_retries = 6;      // Cloudflare retries a failed alarm up to 6 times
  uint32_t do_max_live_objects = 10'000;  // objects::RegistryOptions::max_live_objects
};

// Parses edge.toml at `path`.
Result<Config> LoadConfig(const std::string& path);
// Parses TOML text; `path` names it in messages and anchors relative paths.
Result<Config> ParseConfig(const std::string& path, std::string_view text);

}  // namespace edgelab::runtime

#endif  // EDGELAB_RUNTIME_CONFIG_H_
