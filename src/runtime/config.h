// runtime/config.h: edge.toml, the worker's configuration, in wrangler's
// names where wrangler has one.
//
//   name = "counter-cas"
//   main = "../../build/examples/counter-cas.wasm"   # relative to edge.toml
//   [[kv_namespaces]]  binding = "EDGE_COUNTER_KV"   id = "counter"
//   [limits]    cpu_ms = 50   memory_mb = 128
//   [isolates]  min = 1   max = 64
//   [kv.latency] dist = "fixed" ms = 5      # or uniform min_ms/max_ms,
//                                           # or lognormal median_ms/sigma
//
// Failure: every problem is kInvalidArgument "<file>:<line>:<col>: <key>:
// <what is wrong>"; unknown keys are errors naming them (a typo must not be
// silently ignored). Threading: plain values.
#ifndef EDGELAB_RUNTIME_CONFIG_H_
#define EDGELAB_RUNTIME_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "kv/namespace.h"

namespace edgelab::runtime {

struct KvNamespaceConfig {
  std::string binding;
  std::string id;
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
};

// Parses edge.toml at `path`.
Result<Config> LoadConfig(const std::string& path);
// Parses TOML text; `path` names it in messages and anchors relative paths.
Result<Config> ParseConfig(const std::string& path, std::string_view text);

}  // namespace edgelab::runtime

#endif  // EDGELAB_RUNTIME_CONFIG_H_
