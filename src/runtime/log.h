// runtime/log.h: the server's log: access lines and guest/runtime messages,
// one line per write, to a FILE (stderr by default).
//
// Threading: safe from any thread; a line is written whole (one fwrite under
// a mutex on an unbuffered stream), so lines from two loops never interleave.
#ifndef EDGELAB_RUNTIME_LOG_H_
#define EDGELAB_RUNTIME_LOG_H_

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace edgelab::runtime {

// A guest's message made safe for one log line: CR, LF and other control
// bytes are escaped (a guest must not forge access or error lines) and the
// text is cut at 16 KiB.
std::string GuestText(std::string_view msg);

class Log {
 public:
  // `quiet` drops access lines only; errors and guest logs still print.
  Log(FILE* out, bool quiet) : out_(out), quiet_(quiet) {}

  void Access(std::string_view line) {
    if (!quiet_) Write(line);
  }
  void Line(std::string_view line) { Write(line); }
  bool quiet() const { return quiet_; }

 private:
  void Write(std::string_view line) {
    std::string s;
    s.reserve(line.size() + 1);
    s.append(line).push_back('\n');
    std::lock_guard<std::mutex> lock(mu_);
    std::fwrite(s.data(), 1, s.size(), out_);
    std::fflush(out_);
  }

  FILE* const out_;
  const bool quiet_;
  std::mutex mu_;
};

}  // namespace edgelab::runtime

#endif  // EDGELAB_RUNTIME_LOG_H_
