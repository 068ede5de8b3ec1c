// instance/instance.h: one worker (an edge.toml) served over HTTP in this
// process: its stores, runtime, HTTP front and loops, wired as `edgelab
// serve` runs them. `serve` runs one for the life of the process; `bench`
// starts one per repetition of an edge.toml target, on a free loopback port
// with a fresh data folder, and stops it after.
//
// Threading: Start, the stop steps and the destructor on one controlling
// thread (not a loop); the loops run on threads of their own.
// Life: Start -> (serving) -> BeginDrain -> [http drained] -> ShutdownObjects
// -> [objects_busy() == 0] -> Finish. Stop() does all of it with a deadline.
// Invariants:
//   (1) Finish flushes both stores after the loops stopped: everything a
//       client was answered for is on disk;
//   (2) when a drain does not end in time the instance must not be destroyed
//       (requests still run on its loops): the caller flushes with Flush()
//       and leaves the process (std::_Exit), as serve does.
// Errors of Start name the file and the problem; `bad_input` tells edge.toml
// or module problems (exit 2) from the rest (data folder, port: exit 1).
#ifndef EDGELAB_INSTANCE_INSTANCE_H_
#define EDGELAB_INSTANCE_INSTANCE_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "abi/usage.h"
#include "base/status.h"
#include "http/server.h"
#include "runtime/config.h"

namespace edgelab::runtime {
class Runtime;
class Log;
}  // namespace edgelab::runtime

namespace edgelab::sched {
class LoopGroup;
}  // namespace edgelab::sched
namespace edgelab::race {
class Observer;
}  // namespace edgelab::race

namespace edgelab::instance {

struct InstanceOptions {
  std::string config;  // path of edge.toml
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (see Instance::port)
  // Folder for kv.sqlite3 and objects.sqlite3; "" for .edgelab/ beside
  // edge.toml; ":memory:" keeps nothing.
  std::string data;
  bool quiet = false;    // no access log lines
  uint32_t threads = 0;  // event loops; 0: one per core
  uint64_t max_body_bytes = 100 * 1024 * 1024;
  // Sees every KV and storage operation (race/observer.h); null: none. Must
  // outlive the instance.
  race::Observer* observer = nullptr;
};

class Instance {
 public:
  // Loads edge.toml, opens the data folder, starts the runtime, listens and
  // starts the loops. Log lines go to `log`.
  static Result<std::unique_ptr<Instance>> Start(const InstanceOptions& opts, bool* bad_input,
                                                 FILE* log = stderr);
  ~Instance();  // Requires: Finish() was called, or Start failed midway.

  const runtime::Config& config() const;
  uint16_t port() const;
  size_t threads() const;
  // "http://host:port" (brackets around IPv6), without a path.
  std::string Url() const;
  // What the guests used so far (the cost model's input).
  abi::UsageCounts usage() const;
  uint64_t in_flight() const;    // requests accepted and not answered
  int64_t objects_busy() const;  // Durable Object calls and alarm turns running
  http::ServerStats server_stats() const;

  // Stop steps (see the file comment). `http_drained` runs on a loop thread.
  void BeginDrain(std::function<void()> http_drained);
  void ShutdownObjects();
  // Stops the loops and flushes the stores; the error names what failed.
  Status Finish();
  // Flushes both stores without stopping anything (invariant (2)).
  Status Flush();

  // The whole stop: drain, objects, Finish, within `timeout_s`. On
  // kTimeout the instance is still running (invariant (2)).
  Status Stop(double timeout_s);

 private:
  struct Parts;
  explicit Instance(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace edgelab::instance

#endif  // EDGELAB_INSTANCE_INSTANCE_H_
