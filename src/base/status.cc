// base/status.cc: names for status codes and the CHECK failure path.
#include "base/status.h"

#include <cstdio>
#include <cstdlib>

namespace edgelab {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kNotFound:
      return "not found";
    case Code::kInvalidArgument:
      return "invalid argument";
    case Code::kIOError:
      return "I/O error";
    case Code::kCorruption:
      return "corruption";
    case Code::kTimeout:
      return "timeout";
    case Code::kResourceExhausted:
      return "resource exhausted";
    case Code::kPreconditionFailed:
      return "precondition failed";
    case Code::kTrap:
      return "trap";
    case Code::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code_)) + ": " + message_;
}

void CheckFailed(const char* file, int line, const char* cond) {
  std::fprintf(stderr, "edgelab: CHECK failed at %s:%d: %s\n", file, line, cond);
  std::abort();
}

}  // namespace edgelab
