// engine/nesting.h: the bound on how deeply a module's functions may nest
// blocks, checked on the raw binary before anything builds wabt's IR
// (internal to engine/; includes no wabt header).
//
// Why before: wabt's IR keeps a block's instructions inside the block's node,
// and three passes over it recurse once per nesting level on the native
// stack: the IR's destructor, wabt's binary writer and our rewrite's Walk
// (rewrite.cc). Measured at about 190 bytes of stack per level (RelWithDebInfo;
// about 390 in the ASan build), 300,000 nested `block`s (600 KB of module)
// overflow an 8 MB stack and kill the process. This check reads the binary
// in one flat pass (wabt's BinaryReader does not recurse) that only counts,
// so every recursive pass after it sees a bounded depth.
#ifndef EDGELAB_ENGINE_NESTING_H_
#define EDGELAB_ENGINE_NESTING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace edgelab::engine {

// Most nested block, loop, if and try one function may have open at once.
// Compilers stay far below it: the deepest ordinary output is a switch,
// which clang lowers to one nested block per distinct case target, so
// 10,000 admits a 10,000-way switch. At the measured cost it takes the
// recursive passes about 2 MB of stack (4 MB under ASan): a quarter (half)
// of a main thread's default 8 MB. Module::Load runs on the main thread at
// startup; it must not run on a fiber's small stack.
inline constexpr uint32_t kMaxNesting = 10'000;

// OK when every function of the binary `bytes` nests at most kMaxNesting
// deep. Otherwise kInvalidArgument "<name>: function <f> nests blocks N deep;
// edgelab accepts at most 10000", for the first function that nests deeper,
// with N its deepest nesting and f its name-section name (demangled) or
// index. A malformed binary is not this check's concern: it passes unless a
// function was already found too deep before the fault, and the full decode
// then reports what is wrong.
Status CheckNesting(const std::string& name, const std::vector<uint8_t>& bytes);

}  // namespace edgelab::engine

#endif  // EDGELAB_ENGINE_NESTING_H_
