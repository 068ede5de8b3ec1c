// tests/server_process.h: the real edgelab binary as a child process, for
// end-to-end tests over real HTTP on 127.0.0.1.
//
// Start() runs `edgelab serve ... --port 0` and learns the port from the
// "serving ... on http://127.0.0.1:PORT" line; a reader thread collects every
// stderr line so tests can look for log lines. The destructor sends SIGKILL
// if the test did not Stop() it: no server outlives its test.
#ifndef EDGELAB_TESTS_SERVER_PROCESS_H_
#define EDGELAB_TESTS_SERVER_PROCESS_H_

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace edgelab::e2e {

// Path of a file in the build tree (EDGELAB_BUILD_DIR, set by CTest).
std::string BuildPath(const std::string& rel);
// Path of a file in the source tree.
std::string SourcePath(const std::string& rel);

struct ProcessRun {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs build/edgelab with `args` to completion.
ProcessRun RunEdgelab(const std::vector<std::string>& args);

class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess();

  // Starts `edgelab serve <config> --port 0 <extra...>`; false (with the
  // collected stderr in err()) when it exits before serving.
  bool Start(const std::string& config, const std::vector<std::string>& extra = {});
  uint16_t port() const { return port_; }
  std::string url(const std::string& path) const;
  // SIGTERM, then waits; returns the exit code (128+sig when killed).
  int Stop(int sig = 15);
  // Sends `sig` without waiting.
  void Signal(int sig);
  // Blocks until a stderr line contains `needle` (true) or the process ends
  // without printing one (false).
  bool WaitForLog(const std::string& needle);
  std::string err();

 private:
  void ReadLoop(int fd);

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
};

// `s` percent-encoded for a query value (everything but unreserved bytes).
std::string Encode(std::string_view s);

// Stops `server` with SIGTERM and expects a clean exit: 0, and no sanitizer
// report in its log (an ASan build reports leaks at exit).
void ExpectCleanStop(ServerProcess& server);

struct HttpResult {
  int status = 0;  // 0: no response (connection failed or closed)
  std::string body;
};
// One blocking HTTP/1.1 request on a new connection to 127.0.0.1:port.
HttpResult HttpRequest(uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body = "", const std::vector<std::string>& headers = {});
inline HttpResult HttpGet(uint16_t port, const std::string& target) {
  return HttpRequest(port, "GET", target);
}
// Sends raw bytes and returns everything the server answers until it closes.
std::string RawExchange(uint16_t port, const std::string& bytes);

// A temporary folder removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  // Writes `text` to path()/name; returns the full path.
  std::string Write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

// examples/<name>/edge.toml as shipped, with its module paths made absolute
// into the build under test and each (regex, replacement) of `changes`
// applied; each must match, so a test notices when the example's file
// changes under it. Written into `dir`; returns its path.
std::string ExampleConfig(const TempDir& dir, const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& changes = {});

}  // namespace edgelab::e2e

#endif  // EDGELAB_TESTS_SERVER_PROCESS_H_
