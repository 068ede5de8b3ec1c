// instance/instance_test.cc: a worker (runtime_test.wat) served by an
// Instance over real HTTP: start, serve, stop with its data on disk;
// destruction without Finish returns; start errors are told apart.
#include "instance/instance.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "bench/load.h"
#include "testing/temp_dir.h"

namespace edgelab::instance {
namespace {

// An edge.toml for the test guest in `dir`; `extra` is appended.
std::string WriteConfig(const std::string& dir, const std::string& extra = "") {
  std::string path = dir + "/edge.toml";
  std::ofstream(path) << "name = \"probe\"\nmain = \"" << EDGELAB_RUNTIME_TEST_WASM << "\"\n"
                      << "[[kv_namespaces]]\nbinding = \"KV\"\nid = \"kv\"\n"
                      << "[[durable_objects.bindings]]\nname = \"OBJ\"\nclass_name = \"Obj\"\n"
                      << extra;
  return path;
}

TEST(InstanceTest, ServesThenStopsWithItsDataOnDisk) {
  test::TempDir dir;
  InstanceOptions opts;
  opts.config = WriteConfig(dir.path());
  opts.data = dir.path() + "/data";
  opts.quiet = true;
  opts.threads = 2;
  bool bad_input = true;
  auto in = Instance::Start(opts, &bad_input);
  ASSERT_TRUE(in.ok()) << in.status().message();
  EXPECT_FALSE(bad_input);
  EXPECT_NE((*in)->port(), 0);
  EXPECT_EQ((*in)->Url(), "http://127.0.0.1:" + std::to_string((*in)->port()));
  EXPECT_EQ((*in)->threads(), 2u);
  // "/d" writes KV and calls an object, which stores and sets an alarm.
  auto body = bench::Fetch((*in)->Url() + "/d");
  EXPECT_TRUE(body.ok()) << body.status().message();
  EXPECT_EQ((*in)->usage().requests, 1u);
  EXPECT_EQ((*in)->usage().kv_writes, 1u);
  ASSERT_TRUE((*in)->Stop(10).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/data/kv.sqlite3"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/data/objects.sqlite3"));
}

// An early return between Start and Finish must not hang in the destructor.
TEST(InstanceTest, DestroyedWithoutFinishReturns) {
  test::TempDir dir;
  InstanceOptions opts;
  opts.config = WriteConfig(dir.path());
  opts.data = ":memory:";
  opts.quiet = true;
  bool bad_input = false;
  auto in = Instance::Start(opts, &bad_input);
  ASSERT_TRUE(in.ok()) << in.status().message();
  ASSERT_TRUE(bench::Fetch((*in)->Url() + "/w").ok());
  in->reset();  // CTest's timeout catches a hang
}

TEST(InstanceTest, StartErrorsTellBadInputFromTheRest) {
  test::TempDir dir;
  InstanceOptions opts;
  opts.config = dir.path() + "/missing.toml";
  opts.data = ":memory:";
  bool bad_input = false;
  auto missing = Instance::Start(opts, &bad_input);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(bad_input);
  EXPECT_NE(missing.status().message().find("missing.toml"), std::string::npos);

  // The same port twice: the second cannot listen, which is no input error.
  opts.config = WriteConfig(dir.path());
  auto first = Instance::Start(opts, &bad_input);
  ASSERT_TRUE(first.ok()) << first.status().message();
  opts.port = (*first)->port();
  auto second = Instance::Start(opts, &bad_input);
  ASSERT_FALSE(second.ok());
  EXPECT_FALSE(bad_input);
  EXPECT_TRUE((*first)->Stop(10).ok());
}

}  // namespace
}  // namespace edgelab::instance
