// engine/call_sites_test.cc: guest call sites at host calls (abi::GuestStack,
// call_map.h, call_sites.h, dwarf.h, demangle.h): frames and names from the
// name section, interning, the map from interpreter pcs to the original
// binary (on WAT modules and on every guest the build made), DWARF file:line
// with inlined frames on a real clang guest, broken DWARF, and hostile input
// (long and exploding mangled names, DIEs nested 100,000 deep) captured on a
// request fiber's stack; LoadOptions::call_sites off.
//
// Built as C++17 (it includes wabt).
#include "engine/call_sites.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "abi/context.h"
#include "abi/host.h"
#include "engine/call_map.h"
#include "engine/demangle.h"
#include "engine/dwarf.h"
#include "engine/engine.h"
#include "engine/module_impl.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/wat.h"
#include "wabt/binary-reader-ir.h"
#include "wabt/binary-reader.h"
#include "wabt/binary-writer.h"
#include "wabt/cast.h"
#include "wabt/ir.h"
#include "wabt/resolve-names.h"
#include "wabt/stream.h"
#include "wabt/wast-lexer.h"
#include "wabt/wast-parser.h"

namespace edgelab::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::IsEmpty;

// ---- Modules and the capturing host function ----

// `wat` assembled to a binary with a name section.
std::vector<uint8_t> Wat(const std::string& wat) {
  std::string error;
  std::vector<uint8_t> binary = test::AssembleWat(wat, /*names=*/true, wabt::Features(), &error);
  if (binary.empty()) ADD_FAILURE() << "bad WAT in test:\n" << error;
  return binary;
}

std::vector<race::CallSitePtr> g_sites;  // what test.capture saw (one thread at a time)

abi::HostOutcome Capture(abi::HostCall& c) {
  g_sites.push_back(c.stack == nullptr ? nullptr : c.stack->Capture());
  return abi::HostOutcome::Return();
}

const abi::HostFunction* Resolver(std::string_view module, std::string_view name) {
  static const abi::HostFunction kCapture{"test", "capture", {}, {}, Capture};
  if (module == "test" && name == "capture") return &kCapture;
  return abi::FindHostFunction(module, name);
}

LoadOptions WithCallSites() {
  LoadOptions options;
  options.call_sites = true;
  return options;
}

std::shared_ptr<const Module> MustLoad(std::vector<uint8_t> bytes,
                                       const LoadOptions& options = WithCallSites()) {
  auto m = Module::FromBytes("test.wasm", std::move(bytes), {"fetch"}, Resolver, options);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : nullptr;
}

// The sites test.capture saw during one call of `fn` on a new isolate.
std::vector<race::CallSitePtr> CallFetch(Engine& engine, const std::shared_ptr<const Module>& m,
                                         const char* fn = "fetch") {
  g_sites.clear();
  abi::Context ctx(nullptr, nullptr, nullptr);
  auto iso = engine.Instantiate(m, Limits(), &ctx);
  EXPECT_TRUE(iso.ok()) << iso.status().ToString();
  if (!iso.ok()) return {};
  CallOutcome out = (*iso)->Call(fn, &ctx);
  EXPECT_TRUE(out.ok()) << out.message;
  return g_sites;
}

// A name as a site shows it: cut to kMaxShownBytes (call_sites.h (4)).
std::string Cut(const std::string& name) {
  if (name.size() <= CallSites::kMaxShownBytes) return name;
  return name.substr(0, CallSites::kMaxShownBytes - 3) + "...";
}

std::vector<std::string> Names(const race::CallSitePtr& site) {
  std::vector<std::string> names;
  if (site == nullptr) return names;
  for (const race::Frame& f : site->frames) names.push_back(f.function);
  return names;
}

// fetch calls inner through middle (twice), through other, and directly.
constexpr char kNested[] = R"((module
  (import "test" "capture" (func $capture))
  (memory (export "memory") 1)
  (func $inner (call $capture))
  (func $middle (call $inner) (call $inner))
  (func $other (call $capture))
  (func $fetch (export "fetch") (call $middle) (call $other) (call $inner)))
)";

// ---- Frames and interning, without DWARF ----

TEST(CallSitesTest, FramesAreTheGuestFunctionsInnermostFirst) {
  Engine engine;
  auto m = MustLoad(Wat(kNested));
  ASSERT_NE(m, nullptr);
  std::vector<race::CallSitePtr> sites = CallFetch(engine, m);
  ASSERT_EQ(sites.size(), 4u);
  EXPECT_THAT(Names(sites[0]), ElementsAre("inner", "middle", "fetch"));
  EXPECT_THAT(Names(sites[1]), ElementsAre("inner", "middle", "fetch"));
  EXPECT_THAT(Names(sites[2]), ElementsAre("other", "fetch"));
  EXPECT_THAT(Names(sites[3]), ElementsAre("inner", "fetch"));
  EXPECT_EQ(sites[0]->module, "test.wasm");
  for (const race::Frame& f : sites[0]->frames) {
    EXPECT_EQ(f.file, "");
    EXPECT_EQ(f.line, 0u);
    EXPECT_FALSE(f.inlined);
  }
}

TEST(CallSitesTest, EqualStacksShareOneSiteAndOtherCallsDoNot) {
  Engine engine;
  auto m = MustLoad(Wat(kNested));
  ASSERT_NE(m, nullptr);
  std::vector<race::CallSitePtr> first = CallFetch(engine, m);
  std::vector<race::CallSitePtr> again = CallFetch(engine, m);  // a new isolate
  std::vector<race::CallSitePtr> elsewhere;
  std::thread([&] {
    Engine other;
    elsewhere = CallFetch(other, m);
  }).join();
  ASSERT_EQ(first.size(), 4u);
  ASSERT_EQ(again.size(), 4u);
  ASSERT_EQ(elsewhere.size(), 4u);
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i], again[i]) << i;
    EXPECT_EQ(first[i], elsewhere[i]) << i;
  }
  // The two calls of inner in middle: same functions, different sites.
  EXPECT_NE(first[0], first[1]);
  EXPECT_EQ(m->impl().call_sites->interned(), 4u);
}

TEST(CallSitesTest, HelpersOfTheRewriteAndHostFramesLeaveNoFrames) {
  // memory.grow and memory.fill go through the rewrite's helpers, and
  // call_indirect gets a probe call in front (rewrite.h); none may show.
  Engine engine;
  auto m = MustLoad(Wat(R"((module
    (import "test" "capture" (func $capture))
    (memory (export "memory") 1)
    (table 1 funcref)
    (elem (i32.const 0) $target)
    (type $void (func))
    (func $target
      (drop (memory.grow (i32.const 1)))
      (memory.fill (i32.const 0) (i32.const 0) (i32.const 64))
      (call $capture))
    (func $fetch (export "fetch")
      (call_indirect (type $void) (i32.const 0))
      (call $target)))
  )"));
  ASSERT_NE(m, nullptr);
  std::vector<race::CallSitePtr> sites = CallFetch(engine, m);
  ASSERT_EQ(sites.size(), 2u);
  EXPECT_THAT(Names(sites[0]), ElementsAre("target", "fetch"));
  EXPECT_THAT(Names(sites[1]), ElementsAre("target", "fetch"));
  EXPECT_NE(sites[0], sites[1]);  // call_indirect and call: two sites
}

TEST(CallSitesTest, DeepStacksKeepTheInnermostFrames) {
  Engine engine;
  auto m = MustLoad(Wat(R"((module
    (import "test" "capture" (func $capture))
    (memory (export "memory") 1)
    (func $down (param $n i32)
      (if (i32.eqz (local.get $n)) (then (call $capture) (return)))
      (call $down (i32.sub (local.get $n) (i32.const 1))))
    (func $fetch (export "fetch") (call $down (i32.const 40))))
  )"));
  ASSERT_NE(m, nullptr);
  std::vector<race::CallSitePtr> sites = CallFetch(engine, m);
  ASSERT_EQ(sites.size(), 1u);
  EXPECT_EQ(Names(sites[0]), std::vector<std::string>(CallSites::kMaxFrames, "down"));
}

TEST(CallSitesTest, NoGuestFrameIsNull) {
  auto m = MustLoad(Wat(kNested));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->impl().call_sites->Resolve(nullptr, 0), nullptr);
  const uint32_t outside = m->impl().desc.istream.end() + 100;
  EXPECT_EQ(m->impl().call_sites->Resolve(&outside, 1), nullptr);
}

TEST(CallSitesTest, PastTheCapNewStacksAreFreshSitesNotInterned) {
  auto m = MustLoad(Wat(kNested));
  ASSERT_NE(m, nullptr);
  const ModuleImpl& impl = m->impl();
  // Any pc inside a function is a frame of it (offset unknown); pairs of
  // pcs inside fetch make more distinct stacks than the cap.
  const uint32_t fetch = 4 - static_cast<uint32_t>(impl.imports.size());
  const uint32_t start = impl.desc.funcs.at(fetch).code_offset;
  size_t made = 0;
  for (uint32_t a = 0; a < 100 && made <= CallSites::kMaxInterned; ++a) {
    for (uint32_t b = 0; b < 64 && made <= CallSites::kMaxInterned; ++b, ++made) {
      const uint32_t pcs[] = {start + a % 8, start + b % 8, start + a / 8, start + b / 8};
      ASSERT_NE(impl.call_sites->Resolve(pcs, 4), nullptr);
    }
  }
  EXPECT_EQ(impl.call_sites->interned(), CallSites::kMaxInterned);
  // Past the cap a stack gets its innermost call's site, interned per call:
  // memory stays bounded by the module, and sites still group.
  const uint32_t fresh[] = {start, start, start, start, start};
  const uint32_t other[] = {start, start + 1, start + 2, start + 3, start + 4};
  race::CallSitePtr a = impl.call_sites->Resolve(fresh, 5);
  race::CallSitePtr b = impl.call_sites->Resolve(other, 5);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->frames.size(), 1u);
  EXPECT_EQ(impl.call_sites->interned(), CallSites::kMaxInterned);
}

// The review's case: a function with a 1 MiB name recursing 31 deep made
// each distinct stack cost 32 MB. Names are cut and frames capped.
TEST(CallSitesTest, LongNamesAreCutAndDeepStacksCapped) {
  const std::string big(1 << 20, 'a');
  auto m = MustLoad(Wat(R"((module
    (import "test" "capture" (func $capture))
    (memory (export "memory") 1)
    (func $)" + big + R"( (param i32)
      (if (i32.eqz (local.get 0)) (then (call $capture) (return)))
      (call 1 (i32.sub (local.get 0) (i32.const 1))))
    (func $fetch (export "fetch") (call 1 (i32.const 100)))))"));
  ASSERT_NE(m, nullptr);
  Engine engine;
  std::vector<race::CallSitePtr> sites = CallFetch(engine, m);
  ASSERT_EQ(sites.size(), 1u);
  ASSERT_NE(sites[0], nullptr);
  EXPECT_LE(sites[0]->frames.size(), CallSites::kMaxSiteFrames);
  for (const race::Frame& f : sites[0]->frames) {
    EXPECT_LE(f.function.size(), CallSites::kMaxShownBytes);
  }
  EXPECT_EQ(sites[0]->frames[0].function.substr(CallSites::kMaxShownBytes - 3), "...");
}

// ---- The call map against the original binary ----

struct OriginalCall {
  uint32_t offset;  // last byte of the instruction
  bool direct;
  uint32_t callee;
};

void CollectCalls(const wabt::ExprList& exprs, std::vector<OriginalCall>* out) {
  for (const wabt::Expr& e : exprs) {
    const auto last = static_cast<uint32_t>(e.loc.offset - 1);
    if (auto* c = wabt::dyn_cast<wabt::CallExpr>(&e)) {
      out->push_back({last, true, c->var.index()});
    } else if (wabt::isa<wabt::CallIndirectExpr>(&e)) {
      out->push_back({last, false, 0});
    } else if (auto* b = wabt::dyn_cast<wabt::BlockExpr>(&e)) {
      CollectCalls(b->block.exprs, out);
    } else if (auto* l = wabt::dyn_cast<wabt::LoopExpr>(&e)) {
      CollectCalls(l->block.exprs, out);
    } else if (auto* i = wabt::dyn_cast<wabt::IfExpr>(&e)) {
      CollectCalls(i->true_.exprs, out);
      CollectCalls(i->false_, out);
    }
  }
}

bool ReadLeb(const std::vector<uint8_t>& bytes, size_t* pos, uint32_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 35 && *pos < bytes.size(); shift += 7) {
    const uint8_t b = bytes[(*pos)++];
    v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      *out = static_cast<uint32_t>(v);
      return true;
    }
  }
  return false;
}

// Whether the bytes ending at `c.offset` decode as that call: 0x10 callee,
// or 0x11 type table (LEBs may be padded, as wasm-ld writes them).
bool EndsCall(const std::vector<uint8_t>& bytes, const OriginalCall& c) {
  const size_t end = size_t{c.offset} + 1;
  for (size_t len = 2; len <= 11 && len <= end; ++len) {
    size_t pos = end - len;
    if (bytes[pos++] != (c.direct ? 0x10 : 0x11)) continue;
    uint32_t first = 0, table = 0;
    if (!ReadLeb(bytes, &pos, &first)) continue;
    if (c.direct ? first == c.callee && pos == end : ReadLeb(bytes, &pos, &table) && pos == end) {
      return true;
    }
  }
  return false;
}

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Every call of every function of `bytes` (read independently of the
// engine, before any rewrite) is in the loaded module's map at its offset,
// and the map holds nothing else but the rewrite's own calls (offset 0).
void ExpectEveryCallMapped(const std::string& what, const std::vector<uint8_t>& bytes,
                           const Module& m) {
  wabt::Module ir;
  wabt::Errors errors;
  wabt::ReadBinaryOptions options(wabt::Features(), nullptr, false, true, false);
  ASSERT_TRUE(wabt::Succeeded(
      wabt::ReadBinaryIr(what.c_str(), bytes.data(), bytes.size(), options, &errors, &ir)));
  const CallMap& map = m.impl().call_map;
  EXPECT_THAT(map.unmapped(), IsEmpty()) << what;
  size_t calls = 0;
  for (uint32_t f = ir.num_func_imports; f < ir.funcs.size(); ++f) {
    std::vector<OriginalCall> original;
    CollectCalls(ir.funcs[f]->exprs, &original);
    std::vector<uint32_t> want, got;
    for (const OriginalCall& c : original) {
      EXPECT_TRUE(EndsCall(bytes, c)) << what << ": func " << f << " at " << c.offset;
      want.push_back(c.offset);
    }
    for (const CallPoint& p : map.CallsIn(f)) {
      if (p.offset != 0) got.push_back(p.offset);
    }
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want) << what << ": func " << f;
    calls += want.size();
  }
  EXPECT_GT(calls, 0u) << what;
}

TEST(CallMapTest, EveryCallOfATestModuleIsMapped) {
  std::vector<uint8_t> bytes = Wat(kNested);
  auto m = MustLoad(bytes);
  ASSERT_NE(m, nullptr);
  ExpectEveryCallMapped("kNested", bytes, *m);
}

// The invariant of call_map.h on real clang output: a wabt whose reader
// emits calls differently fails here rather than mislabel call sites.
TEST(CallMapTest, EveryCallOfEveryGuestTheBuildMadeIsMapped) {
  const char* dir = std::getenv("EDGELAB_BUILD_DIR");
  if (dir == nullptr) GTEST_SKIP() << "EDGELAB_BUILD_DIR not set";
  std::vector<std::string> paths;
  for (const char* sub : {"/examples", "/tests/guests"}) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(dir) + sub, ec)) {
      if (entry.path().extension() == ".wasm") paths.push_back(entry.path().string());
    }
  }
  if (paths.empty()) GTEST_SKIP() << "no guests built under " << dir;
  for (const std::string& path : paths) {
    auto m = Module::Load(path, {}, WithCallSites());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    ExpectEveryCallMapped(path, ReadBytes(path), **m);
    // Every guest the build made loads with call sites, each unit accepted.
    EXPECT_EQ((*m)->impl().call_sites->stats().units_refused, 0u) << path;
  }
}

// ---- DWARF ----

// The line of `source` holding `marker` (0 if none).
uint32_t LineOf(const std::string& source, const std::string& marker) {
  std::ifstream in(source);
  std::string line;
  for (uint32_t n = 1; std::getline(in, line); ++n) {
    if (line.find(marker) != std::string::npos) return n;
  }
  return 0;
}

TEST(CallSitesDwarfTest, ARealGuestGetsFileLineAndInlinedFrames) {
  const std::string path = EDGELAB_CALL_SITE_GUEST;
  const std::string source = EDGELAB_CALL_SITE_GUEST_SOURCE;
  auto loaded = Module::FromBytes(path, ReadBytes(path), {"fetch"}, Resolver, WithCallSites());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const std::shared_ptr<const Module>& module = *loaded;
  const CallSiteStats& stats = module->impl().call_sites->stats();
  EXPECT_GT(stats.dwarf_calls, 0u);
  EXPECT_GT(stats.table_bytes, 0u);
  EXPECT_EQ(stats.units_refused, 0u);
  Engine engine;
  std::vector<race::CallSitePtr> sites = CallFetch(engine, module);
  ASSERT_EQ(sites.size(), 1u);
  ASSERT_NE(sites[0], nullptr);
  const std::vector<race::Frame>& f = sites[0]->frames;
  ASSERT_EQ(f.size(), 3u) << ::testing::PrintToString(Names(sites[0]));
  EXPECT_EQ(f[0].function, "Record");  // -gline-tables-only: DWARF's plain name
  EXPECT_THAT(f[0].file, EndsWith("src/engine/call_site_guest.cc"));
  EXPECT_EQ(f[0].line, LineOf(source, "MARK: capture"));
  EXPECT_NE(f[0].column, 0u);
  EXPECT_TRUE(f[0].inlined);
  EXPECT_EQ(f[1].function, "shop::Cart::Checkout(int)");  // the name section's, demangled
  EXPECT_EQ(f[1].file, f[0].file);
  EXPECT_EQ(f[1].line, LineOf(source, "MARK: record"));
  EXPECT_FALSE(f[1].inlined);
  EXPECT_EQ(f[2].function, "fetch()");  // C++: a mangled name, demangled
  EXPECT_EQ(f[2].line, LineOf(source, "MARK: checkout"));
  EXPECT_FALSE(f[2].inlined);
  EXPECT_EQ(CallFetch(engine, module).at(0), sites[0]);
}

// A custom section: id 0, size, name, contents.
void AppendCustom(std::vector<uint8_t>* m, const std::string& name,
                  const std::vector<uint8_t>& contents) {
  std::vector<uint8_t> body;
  auto leb = [](std::vector<uint8_t>* out, uint64_t v) {
    do {
      const uint8_t low = v & 0x7f;
      v >>= 7;
      out->push_back(v != 0 ? low | 0x80 : low);
    } while (v != 0);
  };
  leb(&body, name.size());
  body.insert(body.end(), name.begin(), name.end());
  body.insert(body.end(), contents.begin(), contents.end());
  m->push_back(0);
  leb(m, body.size());
  m->insert(m->end(), body.begin(), body.end());
}

TEST(CallSitesDwarfTest, BrokenDwarfStillLoadsAndGivesNames) {
  // Random bytes, then headers that claim more than there is.
  std::vector<std::vector<uint8_t>> garbage;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> g(16 + rng() % 300);
    for (uint8_t& b : g) b = static_cast<uint8_t>(rng());
    garbage.push_back(g);
  }
  garbage.push_back({0xff, 0xff, 0xff, 0xf0, 0x04, 0x00, 0, 0, 0, 0, 0x04});  // 64-bit, huge
  garbage.push_back({0x40, 0x00, 0x00, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0x04, 0x01});
  garbage.push_back({});
  for (size_t i = 0; i < garbage.size(); ++i) {
    std::vector<uint8_t> bytes = Wat(kNested);
    for (const char* name : {".debug_info", ".debug_abbrev", ".debug_line", ".debug_str",
                             ".debug_ranges", ".debug_aranges"}) {
      AppendCustom(&bytes, name, garbage[i]);
    }
    auto m = MustLoad(bytes);
    ASSERT_NE(m, nullptr) << i;
    Engine engine;
    std::vector<race::CallSitePtr> sites = CallFetch(engine, m);
    ASSERT_EQ(sites.size(), 4u) << i;
    std::vector<std::string> physical;
    for (const race::Frame& f : sites[2]->frames) {
      if (!f.inlined) physical.push_back(f.function);
    }
    EXPECT_THAT(physical, ElementsAre("other", "fetch")) << i;
  }
}

// The contents of the custom sections named ".debug_*": [begin, end).
std::vector<std::pair<size_t, size_t>> DebugSections(const std::vector<uint8_t>& m) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t pos = 8;
  uint32_t size = 0, name_len = 0;
  while (pos < m.size()) {
    const uint8_t id = m[pos++];
    if (!ReadLeb(m, &pos, &size) || size > m.size() - pos) break;
    const size_t end = pos + size;
    size_t name = pos;
    if (id == 0 && ReadLeb(m, &name, &name_len) && name_len <= end - name &&
        std::string(m.begin() + name, m.begin() + name + name_len).rfind(".debug_", 0) == 0) {
      out.emplace_back(name + name_len, end);
    }
    pos = end;
  }
  return out;
}

TEST(CallSitesDwarfTest, CorruptedDwarfOfARealGuestStillGivesItsFrames) {
  const std::string path = EDGELAB_CALL_SITE_GUEST;
  const std::vector<uint8_t> original = ReadBytes(path);
  const std::vector<std::pair<size_t, size_t>> sections = DebugSections(original);
  ASSERT_GE(sections.size(), 2u);
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> bytes = original;
    const auto& [begin, end] = sections[rng() % sections.size()];
    for (uint32_t n = 1 + rng() % 16; n > 0; --n) {
      bytes[begin + rng() % (end - begin)] = static_cast<uint8_t>(rng());
    }
    auto m = Module::FromBytes(path, std::move(bytes), {"fetch"}, Resolver, WithCallSites());
    ASSERT_TRUE(m.ok()) << seed << ": " << m.status().ToString();
    Engine engine;
    std::vector<race::CallSitePtr> sites = CallFetch(engine, *m);
    ASSERT_EQ(sites.size(), 1u) << seed;
    ASSERT_NE(sites[0], nullptr) << seed;
    size_t physical = 0;
    for (const race::Frame& f : sites[0]->frames) {
      EXPECT_NE(f.function, "") << seed;
      physical += f.inlined ? 0 : 1;
    }
    EXPECT_EQ(physical, 2u) << seed;  // Checkout and fetch, whatever DWARF says
  }
}

// ---- Without call sites ----

TEST(CallSitesTest, WithoutCallSitesCaptureIsNullAndNothingIsResolved) {
  Engine engine;
  auto m = MustLoad(Wat(kNested), LoadOptions());
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->impl().call_sites, nullptr);
  std::vector<race::CallSitePtr> sites = CallFetch(engine, m);
  ASSERT_EQ(sites.size(), 4u);
  for (const race::CallSitePtr& site : sites) EXPECT_EQ(site, nullptr);
}

TEST(CallSitesDwarfTest, ADwarfGuestLoadedWithoutCallSitesKeepsNoDwarf) {
  // No table, no DWARF reader, no copy of the module's bytes: ModuleImpl
  // holds the original bytes nowhere, and CallSites (which read them) is
  // not made.
  const std::string path = EDGELAB_CALL_SITE_GUEST;
  auto m = Module::FromBytes(path, ReadBytes(path), {"fetch"}, Resolver);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->impl().call_sites, nullptr);
  Engine engine;
  EXPECT_THAT(CallFetch(engine, *m), ElementsAre(nullptr));
}

// ---- Hostile names and DWARF ----

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// f(int*...*) with `stars` stars: __cxa_demangle recursed once per star,
// ~360 bytes of stack each; 1,000 overflowed a request fiber's 256 KiB.
std::string DeepPointerName(size_t stars) { return "_Z1f" + Repeat("P", stars) + "i"; }

// f(A, B<A, A>, B<B<A, A>, B<A, A> >, ...): each level names the previous
// one twice through a back-reference, doubling the demangled length (22
// levels: 245 bytes that print 54 MB).
std::string ExplodingName(int levels) {
  auto seq = [](int i) {  // the <seq-id> of substitution i: S_, S0_, S1_, ...
    static constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if (i == 0) return std::string("S_");
    std::string id;
    for (int k = i - 1;; k /= 36) {
      id.insert(id.begin(), kDigits[k % 36]);
      if (k < 36) break;
    }
    return "S" + id + "_";
  };
  std::string name = "_Z1f1A";  // substitution 0: A
  for (int level = 0, prev = 0, next = 2; level < levels; ++level, prev = next++) {
    name += (level == 0 ? "1B" : seq(1)) + "I" + seq(prev) + seq(prev) + "E";  // B is 1
  }
  return name;
}

TEST(DemangleTest, ReadsNamesAndBoundsWhatHostileOnesCost) {
  EXPECT_EQ(Demangle("_ZN4shop4Cart8CheckoutEi"), "shop::Cart::Checkout(int)");
  EXPECT_EQ(Demangle("_Z5fetchv"), "fetch()");
  EXPECT_EQ(Demangle("fetch"), "fetch");
  EXPECT_EQ(Demangle("_Z"), "_Z");
  EXPECT_EQ(Demangle("_Z1fPPi!"), "_Z1fPPi!");
  EXPECT_EQ(Demangle(ExplodingName(2)), "f(A, B<A, A>, B<B<A, A>, B<A, A> >)");
  EXPECT_EQ(Demangle("_Z1fIJicEEvDpT_"), "void f<int, char>(int, char)");  // a pack expansion
  // 600 parameters: their array (4.8 KB) outgrows the parser's 4 KiB blocks.
  std::string ints = "int";
  for (int i = 1; i < 600; ++i) ints += ", int";
  EXPECT_EQ(Demangle("_Z1f" + Repeat("i", 600)), "f(" + ints + ")");
  // Deep but short: demangled (on this thread's stack, as at load).
  EXPECT_EQ(Demangle(DeepPointerName(1000)), "f(int" + std::string(1000, '*') + ")");
  // Past kMaxMangledBytes: kept.
  const std::string long_name = DeepPointerName(kMaxMangledBytes);
  EXPECT_EQ(Demangle(long_name), long_name);
  // Bounded to print more than kMaxPrintedBytes: kept, without printing it.
  for (int levels : {22, 60}) {
    const std::string name = ExplodingName(levels);
    ASSERT_LE(name.size(), kMaxMangledBytes);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(Demangle(name), name) << levels;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1)) << levels;
  }
}

// Runs `fn` on a thread with a request fiber's stack (256 KiB, as
// sched::RealScheduler's default), the stack Capture runs on.
void OnFiberSizedStack(std::function<void()> fn) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
  pthread_t thread;
  auto run = [](void* arg) -> void* {
    (*static_cast<std::function<void()>*>(arg))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, run, &fn), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

std::vector<race::CallSitePtr> CallFetchOnFiberSizedStack(const std::shared_ptr<const Module>& m) {
  std::vector<race::CallSitePtr> sites;
  OnFiberSizedStack([&] {
    Engine engine;
    sites = CallFetch(engine, m);
  });
  return sites;
}

TEST(CallSitesTest, HostileNamesInTheNameSectionLoadAndCaptureOnAFibersStack) {
  const std::string deep = DeepPointerName(1000);
  const std::string too_long = DeepPointerName(2 * kMaxMangledBytes);
  const std::string exploding = ExplodingName(60);
  auto m = MustLoad(Wat(R"((module
    (import "test" "capture" (func $capture))
    (memory (export "memory") 1)
    (func $)" + deep + R"( (call $capture))
    (func $)" + too_long +
                        R"( (call $capture))
    (func $)" + exploding +
                        R"( (call $capture))
    (func $fetch (export "fetch") (call 1) (call 2) (call 3)))
  )"));
  ASSERT_NE(m, nullptr);
  std::vector<race::CallSitePtr> sites = CallFetchOnFiberSizedStack(m);
  ASSERT_EQ(sites.size(), 3u);
  EXPECT_THAT(Names(sites[0]), ElementsAre(Cut("f(int" + std::string(1000, '*') + ")"), "fetch"));
  EXPECT_THAT(Names(sites[1]), ElementsAre(Cut(too_long), "fetch"));
  EXPECT_THAT(Names(sites[2]), ElementsAre(Cut(exploding), "fetch"));
}

// DWARF 4 written by hand: a unit per function, each a subprogram over the
// function's body holding nested lexical blocks, or nested inlined calls
// over the whole body.
class DwarfWriter {
 public:
  // Adds a unit for code [low, low + size) (offsets in the code section's
  // contents) whose deepest entry nests `depth` (>= 2) levels under the unit:
  // lexical blocks, or with `inlined`, inlined subroutines.
  void Unit(const std::string& name, const std::string& linkage_name, uint32_t low, uint32_t size,
            uint32_t depth, bool inlined = false) {
    std::vector<uint8_t> body;
    Leb(&body, kCompileUnit);
    Str(&body, name + ".cc");
    U32(&body, 0);  // stmt_list: the one line table
    U32(&body, low);
    U32(&body, size);
    Leb(&body, kSubprogram);
    Str(&body, name);
    Str(&body, linkage_name);
    U32(&body, low);
    U32(&body, size);
    // Blocks at depths 2..depth; below the innermost with children, a null
    // entry closes it, so a chain of blocks ending in a childless one nests
    // exactly `depth` deep.
    const uint32_t blocks = depth - 1;
    for (uint32_t i = 0; i < blocks; ++i) {
      Leb(&body, (inlined ? kInlined : kBlock) + (i + 1 == blocks ? 1 : 0));  // the leaf kind
      if (!inlined) continue;
      U32(&body, low);
      U32(&body, size);
    }
    body.insert(body.end(), blocks - 1, 0);  // close the blocks
    body.push_back(0);                       // close the subprogram
    body.push_back(0);                       // close the unit
    U32(&info_, static_cast<uint32_t>(2 + 4 + 1 + body.size()));
    info_.insert(info_.end(), {4, 0, 0, 0, 0, 0, 4});  // version 4, abbrev 0, 4-byte addresses
    info_.insert(info_.end(), body.begin(), body.end());
  }
  // One sequence: `file` line `line` over [low, low + size).
  void Line(const std::string& file, uint32_t line, uint32_t low, uint32_t size) {
    std::vector<uint8_t> header = {1, 1, 1, 0xfb, 14, 13, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0};
    Str(&header, file);
    header.insert(header.end(), {0, 0, 0, 0});  // dir, mtime, length; end of files
    std::vector<uint8_t> program = {0, 5, 2};   // DW_LNE_set_address
    U32(&program, low);
    program.push_back(3);  // DW_LNS_advance_line
    Leb(&program, line - 1);
    program.push_back(1);  // DW_LNS_copy
    program.push_back(2);  // DW_LNS_advance_pc
    Leb(&program, size);
    program.insert(program.end(), {0, 1, 1});  // DW_LNE_end_sequence
    U32(&line_, static_cast<uint32_t>(2 + 4 + header.size() + program.size()));
    line_.insert(line_.end(), {4, 0});
    U32(&line_, static_cast<uint32_t>(header.size()));
    line_.insert(line_.end(), header.begin(), header.end());
    line_.insert(line_.end(), program.begin(), program.end());
  }
  std::vector<uint8_t> Abbrev() const {
    std::vector<uint8_t> out;
    // code, tag, has children, (attribute, form) pairs, 0 0.
    auto add = [&out](uint8_t code, uint8_t tag, bool children, std::vector<uint8_t> attributes) {
      out.insert(out.end(), {code, tag, children ? uint8_t{1} : uint8_t{0}});
      out.insert(out.end(), attributes.begin(), attributes.end());
      out.insert(out.end(), {0, 0});
    };
    constexpr uint8_t kName = 0x03, kStmtList = 0x10, kLowPc = 0x11, kHighPc = 0x12,
                      kLinkageName = 0x6e;
    constexpr uint8_t kAddr = 0x01, kData4 = 0x06, kString = 0x08, kSecOffset = 0x17;
    add(kCompileUnit, 0x11, true,
        {kName, kString, kStmtList, kSecOffset, kLowPc, kAddr, kHighPc, kData4});
    add(kSubprogram, 0x2e, true,
        {kName, kString, kLinkageName, kString, kLowPc, kAddr, kHighPc, kData4});
    add(kBlock, 0x0b, true, {});  // DW_TAG_lexical_block
    add(kLeafBlock, 0x0b, false, {});
    add(kInlined, 0x1d, true, {kLowPc, kAddr, kHighPc, kData4});  // DW_TAG_inlined_subroutine
    add(kLeafInlined, 0x1d, false, {kLowPc, kAddr, kHighPc, kData4});
    out.push_back(0);
    return out;
  }
  const std::vector<uint8_t>& info() const { return info_; }
  const std::vector<uint8_t>& line() const { return line_; }

 private:
  // Each leaf kind is its kind + 1.
  static constexpr uint8_t kCompileUnit = 1, kSubprogram = 2, kBlock = 3, kLeafBlock = 4,
                           kInlined = 5, kLeafInlined = 6;
  static void Leb(std::vector<uint8_t>* out, uint64_t v) {
    do {
      const uint8_t low = v & 0x7f;
      v >>= 7;
      out->push_back(v != 0 ? low | 0x80 : low);
    } while (v != 0);
  }
  static void U32(std::vector<uint8_t>* out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  static void Str(std::vector<uint8_t>* out, const std::string& s) {
    out->insert(out->end(), s.begin(), s.end());
    out->push_back(0);
  }
  std::vector<uint8_t> info_, line_;
};

// The bodies of the defined functions of `m`: [begin, end) in the code
// section's contents.
std::vector<std::pair<uint32_t, uint32_t>> Bodies(const std::vector<uint8_t>& m) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  size_t pos = 8;
  uint32_t size = 0, count = 0;
  while (pos < m.size()) {
    const uint8_t id = m[pos++];
    if (!ReadLeb(m, &pos, &size)) break;
    if (id == 10) {
      const size_t start = pos;
      if (!ReadLeb(m, &pos, &count)) break;
      for (uint32_t i = 0; i < count && ReadLeb(m, &pos, &size); ++i, pos += size) {
        out.emplace_back(static_cast<uint32_t>(pos - start),
                         static_cast<uint32_t>(pos - start + size));
      }
      break;
    }
    pos += size;
  }
  return out;
}

// fetch calls `shallow` and `deep`, each of which captures; each has a unit
// nesting `shallow_depth` and `deep_depth` levels (shallow's of inlined
// calls with `shallow_inlined`), and `shallow`'s line table says
// shallow.cc:10. `shallow`'s subprogram has the linkage name of the
// reviewer's crash (DeepPointerName(1000)).
std::vector<uint8_t> NestedDwarfModule(uint32_t shallow_depth, uint32_t deep_depth,
                                       bool shallow_inlined = false) {
  std::vector<uint8_t> bytes = Wat(R"((module
    (import "test" "capture" (func $capture))
    (memory (export "memory") 1)
    (func $shallow (call $capture))
    (func $deep (call $capture))
    (func $fetch (export "fetch") (call $shallow) (call $deep)))
  )");
  const std::vector<std::pair<uint32_t, uint32_t>> bodies = Bodies(bytes);
  EXPECT_EQ(bodies.size(), 3u);
  if (bodies.size() != 3) return bytes;
  DwarfWriter dwarf;
  const auto [s_begin, s_end] = bodies[0];
  const auto [d_begin, d_end] = bodies[1];
  dwarf.Unit("shallow", DeepPointerName(1000), s_begin, s_end - s_begin, shallow_depth,
             shallow_inlined);
  dwarf.Unit("deep", "", d_begin, d_end - d_begin, deep_depth);
  dwarf.Line("shallow.cc", 10, s_begin, s_end - s_begin);
  AppendCustom(&bytes, ".debug_abbrev", dwarf.Abbrev());
  AppendCustom(&bytes, ".debug_info", dwarf.info());
  AppendCustom(&bytes, ".debug_line", dwarf.line());
  return bytes;
}

TEST(CallSitesDwarfTest, AUnitNestedTooDeepIsRefusedAndItsCallsGetNames) {
  // 100,000 levels: LLVM's address map would recurse that deep (and end the
  // process, even on the main thread's 8 MB); the other unit, nested exactly
  // as deep as allowed, is read.
  auto m = MustLoad(NestedDwarfModule(Dwarf::kMaxDieDepth, 100'000));
  ASSERT_NE(m, nullptr);
  const CallSiteStats& stats = m->impl().call_sites->stats();
  EXPECT_EQ(stats.units_refused, 1u);
  EXPECT_EQ(stats.dwarf_calls, 1u);
  std::vector<race::CallSitePtr> sites = CallFetchOnFiberSizedStack(m);
  ASSERT_EQ(sites.size(), 2u);
  ASSERT_NE(sites[0], nullptr);
  ASSERT_NE(sites[1], nullptr);
  // DWARF's linkage name, demangled at load.
  EXPECT_THAT(Names(sites[0]), ElementsAre(Cut("f(int" + std::string(1000, '*') + ")"), "fetch"));
  EXPECT_THAT(sites[0]->frames[0].file, EndsWith("shallow.cc"));
  EXPECT_EQ(sites[0]->frames[0].line, 10u);
  EXPECT_EQ(sites[0]->frames[1].file, "");  // fetch: no unit
  EXPECT_THAT(Names(sites[1]), ElementsAre("deep", "fetch"));
  for (const race::Frame& f : sites[1]->frames) EXPECT_EQ(f.file, "");
}

TEST(CallSitesDwarfTest, OneLevelPastTheLimitIsRefused) {
  auto m = MustLoad(NestedDwarfModule(Dwarf::kMaxDieDepth + 1, 2));
  ASSERT_NE(m, nullptr);
  const CallSiteStats& stats = m->impl().call_sites->stats();
  EXPECT_EQ(stats.units_refused, 1u);
  EXPECT_EQ(stats.dwarf_calls, 1u);  // deep's: its unit is read (no line for it)
  Engine engine;
  std::vector<race::CallSitePtr> sites = CallFetch(engine, m);
  ASSERT_EQ(sites.size(), 2u);
  ASSERT_NE(sites[0], nullptr);
  EXPECT_THAT(Names(sites[0]), ElementsAre("shallow", "fetch"));
  EXPECT_EQ(sites[0]->frames[0].file, "");
  EXPECT_THAT(Names(sites[1]), ElementsAre("deep", "fetch"));
}

TEST(CallSitesDwarfTest, ALongInlinedChainKeepsItsInnermostFramesAndThePhysicalOne) {
  // 24 calls inlined into one another in `shallow`: 25 frames, of which a
  // call keeps kMaxCallFrames.
  auto m = MustLoad(NestedDwarfModule(25, 2, /*shallow_inlined=*/true));
  ASSERT_NE(m, nullptr);
  Engine engine;
  std::vector<race::CallSitePtr> sites = CallFetch(engine, m);
  ASSERT_EQ(sites.size(), 2u);
  ASSERT_NE(sites[0], nullptr);
  const std::vector<race::Frame>& f = sites[0]->frames;
  ASSERT_EQ(f.size(), CallSites::kMaxCallFrames + 1);  // and fetch
  for (size_t i = 0; i + 1 < CallSites::kMaxCallFrames; ++i) {
    EXPECT_EQ(f[i].function, "??") << i;  // no names: no abstract origins
    EXPECT_TRUE(f[i].inlined) << i;
  }
  EXPECT_THAT(f[0].file, EndsWith("shallow.cc"));
  EXPECT_EQ(f[0].line, 10u);
  const race::Frame& physical = f[CallSites::kMaxCallFrames - 1];
  EXPECT_EQ(physical.function, Cut("f(int" + std::string(1000, '*') + ")"));
  EXPECT_FALSE(physical.inlined);
  EXPECT_EQ(f.back().function, "fetch");
}

}  // namespace
}  // namespace edgelab::engine
