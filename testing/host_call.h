// testing/host_call.h: calls one guest ABI host function the way the engine
// does, over a test's own guest memory, for abi/ unit tests.
//
// Threading: the caller's; the host function may wait on the context's
// scheduler, so call it on a fiber when it does.
#ifndef EDGELAB_TESTING_HOST_CALL_H_
#define EDGELAB_TESTING_HOST_CALL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "abi/host.h"

namespace edgelab::test {

struct HostCallResult {
  abi::HostOutcome outcome;
  std::vector<uint64_t> results;  // one per result of the function
  uint64_t cost = 0;              // HostCall::bytes after the call
};

// Finds module.name (a test failure when it is missing or `args` has the
// wrong count) and runs it over `mem` with `ctx`.
inline HostCallResult CallHost(abi::Context* ctx, std::vector<uint8_t>& mem,
                               std::string_view module, std::string_view name,
                               std::vector<uint64_t> args) {
  HostCallResult r;
  const abi::HostFunction* f = abi::FindHostFunction(module, name);
  EXPECT_NE(f, nullptr) << module << "." << name;
  if (f == nullptr) return r;
  EXPECT_EQ(f->params.size(), args.size()) << name;
  args.resize(f->params.size());
  r.results.assign(f->results.size(), 0);
  abi::HostCall call{ctx, abi::Memory{mem.data(), mem.size()}, args.data(), r.results.data()};
  r.outcome = f->fn(call);
  r.cost = call.bytes;
  return r;
}

}  // namespace edgelab::test

#endif  // EDGELAB_TESTING_HOST_CALL_H_
