// engine/module_test.cc: Module::Load's guards against input that would
// otherwise give a useless message or take the process down: a file that is
// not a Wasm binary, and functions nesting blocks deeper than kMaxNesting
// (nesting.h). The deep modules are built byte by byte here: wabt's text
// parser and writer would recurse on them as Load once did.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/nesting.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edgelab::engine {
namespace {

using ::testing::HasSubstr;

// ---- A minimal module, byte by byte ----

void Leb(std::vector<uint8_t>* out, uint64_t v) {
  do {
    const uint8_t low = v & 0x7f;
    v >>= 7;
    out->push_back(v != 0 ? low | 0x80 : low);
  } while (v != 0);
}

void Section(std::vector<uint8_t>* out, uint8_t id, const std::vector<uint8_t>& body) {
  out->push_back(id);
  Leb(out, body.size());
  out->insert(out->end(), body.begin(), body.end());
}

// A worker whose one function, "fetch" () -> (), has the instructions `code`
// (its final `end` is added), named `name` in a name section unless empty.
std::vector<uint8_t> Worker(const std::vector<uint8_t>& code, const std::string& name = "") {
  std::vector<uint8_t> m = {0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00};
  Section(&m, 1, {0x01, 0x60, 0x00, 0x00});  // type 0: () -> ()
  Section(&m, 3, {0x01, 0x00});              // func 0: type 0
  Section(&m, 5, {0x01, 0x00, 0x01});        // memory 0: 1 page
  Section(&m, 7,
          {0x02, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00,  // exports
           0x05, 'f', 'e', 't', 'c', 'h', 0x00, 0x00});
  std::vector<uint8_t> body = {0x00};  // no locals
  body.insert(body.end(), code.begin(), code.end());
  body.push_back(0x0b);
  std::vector<uint8_t> section = {0x01};
  Leb(&section, body.size());
  section.insert(section.end(), body.begin(), body.end());
  Section(&m, 10, section);
  if (!name.empty()) {
    std::vector<uint8_t> names = {0x04, 'n', 'a', 'm', 'e', 0x01};  // function names
    std::vector<uint8_t> sub = {0x01, 0x00};                        // one: func 0
    Leb(&sub, name.size());
    sub.insert(sub.end(), name.begin(), name.end());
    Leb(&names, sub.size());
    names.insert(names.end(), sub.begin(), sub.end());
    Section(&m, 0, names);
  }
  return m;
}

// `depth` nested constructs opened by `open` (each leaving the stack as it
// found it), then closed.
std::vector<uint8_t> Nest(uint32_t depth, const std::vector<uint8_t>& open) {
  std::vector<uint8_t> code;
  code.reserve(depth * (open.size() + 1));
  for (uint32_t i = 0; i < depth; ++i) code.insert(code.end(), open.begin(), open.end());
  code.insert(code.end(), depth, 0x0b);
  return code;
}

const std::vector<uint8_t> kBlock = {0x02, 0x40};
const std::vector<uint8_t> kLoop = {0x03, 0x40};
const std::vector<uint8_t> kIf = {0x41, 0x00, 0x04, 0x40};  // i32.const 0; if

// The load error's message ("" when it loads); every error here is kInvalidArgument.
std::string LoadError(const std::vector<uint8_t>& bytes) {
  auto m = Module::FromBytes("deep.wasm", bytes, {"fetch"});
  if (m.ok()) return "";
  EXPECT_EQ(m.status().code(), Code::kInvalidArgument);
  return m.status().message();
}

// ---- Not a binary ----

constexpr char kNotBinary[] =
    ": not a WebAssembly binary (no \\0asm header; is it a .wat text file? compile it with "
    "wat2wasm)";

TEST(ModuleLoadTest, AWatTextFileIsNamedAsNotABinary) {
  const std::string wat = "(module (memory (export \"memory\") 1) (func (export \"fetch\")))\n";
  auto m = Module::FromBytes("worker.wat", std::vector<uint8_t>(wat.begin(), wat.end()), {"fetch"});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(m.status().message(), std::string("worker.wat") + kNotBinary);
}

TEST(ModuleLoadTest, EmptyAndShortFilesAreNotBinaries) {
  for (const std::vector<uint8_t>& bytes :
       {std::vector<uint8_t>{}, std::vector<uint8_t>{0x00, 'a', 's'}}) {
    auto m = Module::FromBytes("w.wasm", bytes, {"fetch"});
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().message(), std::string("w.wasm") + kNotBinary);
  }
}

TEST(ModuleLoadTest, LoadOfATextFileSaysSoWithItsPath) {
  const std::string path = ::testing::TempDir() + "module_test_worker.wat";
  std::ofstream(path) << "(module)\n";
  auto m = Module::Load(path, {"fetch"});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), path + kNotBinary);
  std::remove(path.c_str());
}

TEST(ModuleLoadTest, TheHandBuiltWorkerLoadsAndRuns) {
  auto m = Module::FromBytes("w.wasm", Worker({0x01}), {"fetch"});  // nop
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  Engine engine;
  auto iso = engine.Instantiate(*m, Limits(), nullptr);
  ASSERT_TRUE(iso.ok()) << iso.status().ToString();
  EXPECT_TRUE((*iso)->Call("fetch", nullptr).ok());
}

// ---- Nesting ----

TEST(ModuleNestingTest, FiveThousandNestedBlocksLoadAndRun) {
  auto m = Module::FromBytes("w.wasm", Worker(Nest(5'000, kBlock)), {"fetch"});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  Engine engine;
  auto iso = engine.Instantiate(*m, Limits(), nullptr);
  ASSERT_TRUE(iso.ok()) << iso.status().ToString();
  EXPECT_TRUE((*iso)->Call("fetch", nullptr).ok());
}

TEST(ModuleNestingTest, TheBoundItselfLoadsAndOneMoreIsRejected) {
  EXPECT_EQ(LoadError(Worker(Nest(kMaxNesting, kBlock))), "");
  EXPECT_EQ(LoadError(Worker(Nest(kMaxNesting + 1, kBlock))),
            "deep.wasm: function 0 nests blocks 10001 deep; edgelab accepts at most 10000");
}

TEST(ModuleNestingTest, TwentyThousandNestedBlocksAreACleanError) {
  EXPECT_EQ(LoadError(Worker(Nest(20'000, kBlock))),
            "deep.wasm: function 0 nests blocks 20000 deep; edgelab accepts at most 10000");
}

// 600 KB of module; this used to overflow the native stack and kill the process.
TEST(ModuleNestingTest, ThreeHundredThousandNestedBlocksAreACleanErrorNamingTheFunction) {
  EXPECT_EQ(LoadError(Worker(Nest(300'000, kBlock), "_ZN6worker5fetchEv")),
            "deep.wasm: function worker::fetch() nests blocks 300000 deep; edgelab accepts at "
            "most 10000");
}

TEST(ModuleNestingTest, LoopsAndIfsCountAsNesting) {
  EXPECT_THAT(LoadError(Worker(Nest(20'000, kLoop))), HasSubstr("nests blocks 20000 deep"));
  EXPECT_THAT(LoadError(Worker(Nest(20'000, kIf))), HasSubstr("nests blocks 20000 deep"));
}

// Depth is what is open at once: closing a block gives its level back.
TEST(ModuleNestingTest, SiblingBlocksDoNotAddUp) {
  std::vector<uint8_t> code = Nest(8'000, kBlock);
  const std::vector<uint8_t> again = Nest(8'000, kLoop);
  code.insert(code.end(), again.begin(), again.end());
  EXPECT_EQ(LoadError(Worker(code)), "");
}

// A deep module that is also malformed is rejected for its depth; a shallow
// malformed one still gets the decoder's message.
TEST(ModuleNestingTest, MalformedModulesStillGetTheDecodersMessage) {
  std::vector<uint8_t> shallow = Worker(Nest(3, kBlock));
  shallow.push_back(0x0b);  // a stray byte after the last section
  const std::string err = LoadError(shallow);
  EXPECT_THAT(err, HasSubstr("deep.wasm: "));
  EXPECT_THAT(err, ::testing::Not(HasSubstr("nests blocks")));
  std::vector<uint8_t> deep = Worker(Nest(20'000, kBlock));
  deep.push_back(0x0b);
  EXPECT_THAT(LoadError(deep), HasSubstr("nests blocks 20000 deep"));
}

}  // namespace
}  // namespace edgelab::engine
