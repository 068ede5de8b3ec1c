// runtime/outcome.h: how a finished guest call becomes an HTTP response and
// log lines; shared by worker requests (runtime.cc) and Durable Object turns
// (object_host.cc), so both fail the same way (runtime.h lists the mapping).
//
// Threading: plain functions; the log is thread-safe.
#ifndef EDGELAB_RUNTIME_OUTCOME_H_
#define EDGELAB_RUNTIME_OUTCOME_H_

#include <cstdint>
#include <string>

#include "abi/context.h"
#include "engine/engine.h"
#include "runtime/log.h"

namespace edgelab::runtime {

// "debug", "info", "warn" or "error".
const char* LevelName(abi::LogLevel level);

// A text/plain response with `status` and `body`.
abi::Response Failure(int status, std::string body);

// For access lines: "12.3ms" for a duration in microseconds, and the CPU
// time `fuel` stands for (engine.h kFuelPerMs) as "0.123ms".
std::string Millis(int64_t micros);
std::string CpuMillis(uint64_t fuel);

// The limits named in fault messages.
struct LimitNames {
  uint32_t cpu_ms = 0;
  uint32_t memory_mb = 0;
};

// The response for `out`: the guest's own for kOk and kExit, else 503 (CPU
// or memory limit) or 500 (trap), with an error line "<who>: ..." in `log`.
// Flushes the guest's unfinished stdout/stderr lines first.
abi::Response OutcomeResponse(const engine::CallOutcome& out, abi::Context& ctx,
                              const std::string& who, LimitNames limits, Log* log);

}  // namespace edgelab::runtime

#endif  // EDGELAB_RUNTIME_OUTCOME_H_
