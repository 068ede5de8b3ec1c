// engine/nesting.cc: the nesting bound (nesting.h), as a BinaryReader
// delegate that counts open blocks per function. Linear in the module size
// and allocation-free except for the offending function's name.
#include "engine/nesting.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include "engine/module_impl.h"
#include "wabt/binary-reader-nop.h"
#include "wabt/binary-reader.h"

namespace edgelab::engine {
namespace {

using wabt::Index;
using wabt::Result;

class NestingCounter : public wabt::BinaryReaderNop {
 public:
  // The first function that nests deeper than kMaxNesting, if any.
  std::optional<Index> deep_func() const { return deep_func_; }
  uint64_t deepest() const { return deepest_; }
  const std::string& deep_name() const { return deep_name_; }

  // Handled, silently: the decode reports a malformed module (unhandled,
  // wabt would print the error to stderr).
  bool OnError(const wabt::Error&) override { return true; }

  Result BeginFunctionBody(Index index, wabt::Offset) override {
    func_ = index;
    depth_ = 0;
    return Result::Ok;
  }
  Result OnBlockExpr(wabt::Type) override { return Open(); }
  Result OnLoopExpr(wabt::Type) override { return Open(); }
  Result OnIfExpr(wabt::Type) override { return Open(); }
  Result OnTryExpr(wabt::Type) override { return Open(); }
  Result OnEndExpr() override { return Close(); }
  // `delegate` ends a `try` in place of its `end`.
  Result OnDelegateExpr(Index) override { return Close(); }
  // The name section comes after the code: names arrive once counting is done.
  Result OnFunctionName(Index index, std::string_view name) override {
    if (deep_func_ == index) deep_name_ = std::string(name);
    return Result::Ok;
  }

 private:
  // Counting goes on past the bound (nothing here grows with depth) so the
  // message can give the function's real depth and name.
  Result Open() {
    ++depth_;
    if (depth_ > kMaxNesting && (!deep_func_ || *deep_func_ == func_)) {
      deep_func_ = func_;
      deepest_ = std::max(deepest_, depth_);
    }
    return Result::Ok;
  }
  // The `end` of the body itself finds depth 0.
  Result Close() {
    if (depth_ > 0) --depth_;
    return Result::Ok;
  }

  Index func_ = 0;
  uint64_t depth_ = 0;
  std::optional<Index> deep_func_;
  uint64_t deepest_ = 0;
  std::string deep_name_;
};

}  // namespace

Status CheckNesting(const std::string& name, const std::vector<uint8_t>& bytes) {
  // Every proposal on, so that no opcode stops the count early: a module
  // using one is later read again with it on (the "uses the ... proposal"
  // message), and that read builds the IR too.
  wabt::Features all;
  all.EnableAll();
  wabt::ReadBinaryOptions options(all, nullptr, /*read_debug_names=*/true,
                                  /*stop_on_first_error=*/true,
                                  /*fail_on_custom_section_error=*/false);
  NestingCounter counter;
  // A failed read is the decode's to report (nesting.h); only the count matters.
  (void)wabt::ReadBinary(bytes.data(), bytes.size(), &counter, options);
  if (!counter.deep_func()) return Status::OK();
  const Index index = *counter.deep_func();
  const std::string func =
      counter.deep_name().empty() ? std::to_string(index) : ReadableName(counter.deep_name());
  return Status::InvalidArgument(name + ": function " + func + " nests blocks " +
                                 std::to_string(counter.deepest()) +
                                 " deep; edgelab accepts at most " + std::to_string(kMaxNesting));
}

}  // namespace edgelab::engine
