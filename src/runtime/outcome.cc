// runtime/outcome.cc: guest call outcomes as responses and log lines.
#include "runtime/outcome.h"

#include <cstdio>

namespace edgelab::runtime {

const char* LevelName(abi::LogLevel level) {
  switch (level) {
    case abi::LogLevel::kDebug:
      return "debug";
    case abi::LogLevel::kInfo:
      return "info";
    case abi::LogLevel::kWarn:
      return "warn";
    case abi::LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string Millis(int64_t micros) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fms", micros / 1000.0);
  return buf;
}

std::string CpuMillis(uint64_t fuel) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fms", engine::FuelMillis(fuel));
  return buf;
}

abi::Response Failure(int status, std::string body) {
  abi::Response r;
  r.status = status;
  r.headers.emplace_back("content-type", "text/plain");
  r.body = std::move(body);
  return r;
}

abi::Response OutcomeResponse(const engine::CallOutcome& out, abi::Context& ctx,
                              const std::string& who, LimitNames limits, Log* log) {
  if (!ctx.stdout_line.empty()) ctx.Log(abi::LogLevel::kInfo, ctx.stdout_line);
  if (!ctx.stderr_line.empty()) ctx.Log(abi::LogLevel::kError, ctx.stderr_line);
  ctx.stdout_line.clear();
  ctx.stderr_line.clear();
  using K = engine::CallOutcome::Kind;
  std::string where = out.function.empty() ? "" : " in " + GuestText(out.function);
  switch (out.kind) {
    case K::kOk:
      return std::move(ctx.response);
    case K::kExit:
      if (out.exit_code != 0 && !ctx.response.status_set) ctx.response.status = 500;
      return std::move(ctx.response);
    case K::kOutOfFuel:
      log->Line("error: " + who + ": exceeded CPU limit (cpu_ms=" + std::to_string(limits.cpu_ms) +
                ")" + where);
      return Failure(503, "worker exceeded CPU limit\n");
    case K::kOutOfMemory:
      log->Line("error: " + who + ": exceeded memory limit (memory_mb=" +
                std::to_string(limits.memory_mb) + ")" + where + ": " + out.message);
      return Failure(503, "worker exceeded memory limit\n");
    case K::kTrap:
      break;
  }
  log->Line("error: " + who + ": trap" + where + ": " + out.message);
  return Failure(500, "worker trapped" + where + ": " + out.message + "\n");
}

}  // namespace edgelab::runtime
