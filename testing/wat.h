// testing/wat.h: a WAT text assembled to a Wasm binary with wabt, for the
// engine's tests and benchmarks (which need modules the SDK cannot make:
// exact instruction shapes, name sections, hand-made imports).
// Header-only; includes wabt's headers, so its users compile as C++17.
#ifndef EDGELAB_TESTING_WAT_H_
#define EDGELAB_TESTING_WAT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wabt/binary-writer.h"
#include "wabt/error.h"
#include "wabt/ir.h"
#include "wabt/resolve-names.h"
#include "wabt/stream.h"
#include "wabt/wast-parser.h"

namespace edgelab::test {

// `wat` as a binary, with a name section when `names`; empty with `*error`
// (if given) set to wabt's messages when the text does not assemble.
inline std::vector<uint8_t> AssembleWat(std::string_view wat, bool names = true,
                                        wabt::Features features = wabt::Features(),
                                        std::string* error = nullptr) {
  wabt::Errors errors;
  auto lexer = wabt::WastLexer::CreateBufferLexer("test.wat", wat.data(), wat.size(), &errors);
  wabt::WastParseOptions options(features);
  std::unique_ptr<wabt::Module> module;
  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions write(features, true, false, names);
  if (wabt::Failed(wabt::ParseWatModule(lexer.get(), &module, &errors, &options)) ||
      wabt::Failed(wabt::ResolveNamesModule(module.get(), &errors)) ||
      wabt::Failed(wabt::WriteBinaryModule(&stream, module.get(), write))) {
    if (error != nullptr) {
      error->clear();
      for (const auto& e : errors) *error += e.message + "\n";
    }
    return {};
  }
  return stream.output_buffer().data;
}

}  // namespace edgelab::test

#endif  // EDGELAB_TESTING_WAT_H_
