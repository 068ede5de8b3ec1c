// tests/server_process.cc: child-process and raw-socket helpers for the
// end-to-end tests. Plain POSIX on purpose: the tests must not share code
// with what they test.
#include "tests/server_process.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

extern char** environ;

namespace edgelab::e2e {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  return out;
}

// Spawns build/edgelab with `args`; returns its pid; the child's stdout and
// stderr go to the given fds.
pid_t Spawn(const std::vector<std::string>& args, int out_fd, int err_fd) {
  std::string bin = BuildPath("edgelab");
  std::vector<char*> argv{bin.data()};
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::string BuildPath(const std::string& rel) {
  const char* dir = std::getenv("EDGELAB_BUILD_DIR");
  return (fs::path(dir != nullptr ? dir : EDGELAB_DEFAULT_BUILD_DIR) / rel).string();
}

std::string SourcePath(const std::string& rel) {
  return (fs::path(EDGELAB_SOURCE_DIR) / rel).string();
}

ProcessRun RunEdgelab(const std::vector<std::string>& args) {
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) return {};
  pid_t pid = Spawn(args, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  ProcessRun r;
  std::thread t([&] { r.err = ReadAll(err[0]); });
  r.out = ReadAll(out[0]);
  t.join();
  close(out[0]);
  close(err[0]);
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid) r.exit_code = ExitCode(status);
  return r;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop(SIGKILL);
}

bool ServerProcess::Start(const std::string& config, const std::vector<std::string>& extra) {
  std::vector<std::string> args{"serve", config, "--port", "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  int err[2];
  if (pipe(err) != 0) return false;
  pid_ = Spawn(args, 1, err[1]);
  close(err[1]);
  reader_ = std::thread([this, fd = err[0]] { ReadLoop(fd); });
  std::unique_lock<std::mutex> lock(mu_);
  std::regex serving(R"(serving .* on http://[^:]+:(\d+))");
  size_t seen = 0;
  while (true) {
    for (; seen < lines_.size(); ++seen) {
      std::smatch m;
      if (std::regex_search(lines_[seen], m, serving)) {
        port_ = static_cast<uint16_t>(std::stoi(m[1]));
        return true;
      }
    }
    if (eof_) return false;
    cv_.wait(lock);
  }
}

void ServerProcess::ReadLoop(int fd) {
  std::string pending;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    pending.append(buf, n);
    size_t nl;
    std::lock_guard<std::mutex> lock(mu_);
    while ((nl = pending.find('\n')) != std::string::npos) {
      lines_.push_back(pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
    cv_.notify_all();
  }
  close(fd);
  std::lock_guard<std::mutex> lock(mu_);
  if (!pending.empty()) lines_.push_back(pending);
  eof_ = true;
  cv_.notify_all();
}

std::string ServerProcess::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

int ServerProcess::Stop(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  return ExitCode(status);
}

void ServerProcess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

bool ServerProcess::WaitForLog(const std::string& needle) {
  std::unique_lock<std::mutex> lock(mu_);
  size_t seen = 0;
  while (true) {
    for (; seen < lines_.size(); ++seen) {
      if (lines_[seen].find(needle) != std::string::npos) return true;
    }
    if (eof_) return false;
    cv_.wait(lock);
  }
}

std::string ServerProcess::err() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string all;
  for (const auto& l : lines_) all += l + "\n";
  return all;
}

HttpResult HttpRequest(uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body, const std::vector<std::string>& headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::string raw = RawExchange(port, req);
  HttpResult r;
  if (raw.rfind("HTTP/1.1 ", 0) != 0) return r;
  r.status = std::atoi(raw.c_str() + 9);
  size_t end = raw.find("\r\n\r\n");
  if (end != std::string::npos) r.body = raw.substr(end + 4);
  return r;
}

std::string RawExchange(uint16_t port, const std::string& bytes) {
  int fd = Connect(port);
  if (fd < 0) return "";
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += n;
  }
  std::string out = ReadAll(fd);
  close(fd);
  return out;
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "edgelab-test-XXXXXX").string();
  path_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& name, const std::string& text) const {
  std::string p = (fs::path(path_) / name).string();
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

void ExpectCleanStop(ServerProcess& server) {
  int code = server.Stop();
  std::string log = server.err();
  EXPECT_EQ(code, 0) << log;
  EXPECT_EQ(log.find("ERROR: AddressSanitizer"), std::string::npos) << log;
  EXPECT_EQ(log.find("runtime error:"), std::string::npos) << log;
}

std::string Encode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

// examples/<name>/edge.toml as shipped, with its module paths made absolute into the build under
// test and each (regex, replacement) of `changes` applied; each must match, so the test notices
// when the example's file changes under it.
std::string ExampleConfig(const TempDir& dir, const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& changes) {
  std::ifstream in(SourcePath("examples/" + name + "/edge.toml"));
  std::stringstream text;
  text << in.rdbuf();
  std::string toml = text.str();
  std::regex module_path(R"re("\.\./\.\./build/(examples/[a-z-]+\.wasm)")re");
  std::string out;
  auto last = toml.cbegin();
  for (std::sregex_iterator it(toml.begin(), toml.end(), module_path), end; it != end; ++it) {
    out.append(last, toml.cbegin() + it->position());
    out += "\"" + BuildPath((*it)[1]) + "\"";
    last = toml.cbegin() + it->position() + it->length();
  }
  out.append(last, toml.cend());
  EXPECT_NE(out, toml) << name << ": no module path to rewrite";
  for (const auto& [pattern, replacement] : changes) {
    std::regex re(pattern);
    EXPECT_TRUE(std::regex_search(out, re)) << name << "/edge.toml has no " << pattern;
    out = std::regex_replace(out, re, replacement);
  }
  return dir.Write(name + ".toml", out);
}

}  // namespace edgelab::e2e
