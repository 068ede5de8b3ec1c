// runtime/log.cc: escaping of guest text for the log.
#include "runtime/log.h"

#include <algorithm>

namespace edgelab::runtime {

std::string GuestText(std::string_view msg) {
  constexpr size_t kMax = 16 * 1024;
  std::string out;
  out.reserve(std::min(msg.size(), kMax) + 16);
  for (size_t i = 0; i < msg.size() && i < kMax; ++i) {
    unsigned char ch = static_cast<unsigned char>(msg[i]);
    if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch < 0x20 && ch != '\t') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[ch >> 4]);
      out.push_back(kHex[ch & 15]);
    } else {
      out.push_back(static_cast<char>(ch));
    }
  }
  if (msg.size() > kMax) out += "... (" + std::to_string(msg.size() - kMax) + " more bytes)";
  return out;
}

}  // namespace edgelab::runtime
