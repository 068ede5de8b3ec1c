// abi/guest.cc: the bounds checks behind every guest pointer.
#include "abi/guest.h"

namespace edgelab::abi {

bool Guest::Check(uint32_t ptr, uint32_t len) {
  if (call_.mem.Contains(ptr, len)) return true;
  trap_ = "edgelab." + std::string(fn_) + ": pointer out of bounds (ptr=" + std::to_string(ptr) +
          ", len=" + std::to_string(len) + ", memory=" + std::to_string(call_.mem.size) + ")";
  return false;
}

HostOutcome Guest::Trap(std::string_view why) const {
  return HostOutcome::Trap("edgelab." + std::string(fn_) + ": " + std::string(why));
}

bool Guest::Read(uint32_t ptr, uint32_t len, std::string_view* out) {
  if (!Check(ptr, len)) return false;
  Charge(len);
  *out = std::string_view(reinterpret_cast<const char*>(call_.mem.base + ptr), len);
  return true;
}

bool Guest::Writable(uint32_t ptr, uint32_t len, uint8_t** out) {
  if (!Check(ptr, len)) return false;
  Charge(len);
  *out = call_.mem.base + ptr;
  return true;
}

bool Guest::WriteOut(uint32_t buf, uint32_t cap, std::string_view data, uint32_t* full_len) {
  if (!Check(buf, cap)) return false;
  Charge(data.size());
  size_t n = data.size() < cap ? data.size() : cap;
  if (n > 0) std::memcpy(call_.mem.base + buf, data.data(), n);
  *full_len = static_cast<uint32_t>(data.size());
  return true;
}

bool Guest::WriteCString(uint32_t buf, uint32_t cap, std::string_view s) {
  if (!Check(buf, cap)) return false;
  Charge(s.size());
  if (cap == 0) return true;
  uint8_t* p = call_.mem.base + buf;
  size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
  std::memcpy(p, s.data(), n);
  p[n] = 0;
  return true;
}

bool Guest::StoreU32(uint32_t ptr, uint32_t v) {
  uint8_t* p;
  if (!Writable(ptr, 4, &p)) return false;
  std::memcpy(p, &v, 4);  // wasm is little-endian, as is every host we build for
  return true;
}

bool Guest::StoreU64(uint32_t ptr, uint64_t v) {
  uint8_t* p;
  if (!Writable(ptr, 8, &p)) return false;
  std::memcpy(p, &v, 8);
  return true;
}

bool Guest::LoadU32(uint32_t ptr, uint32_t* v) {
  std::string_view s;
  if (!Read(ptr, 4, &s)) return false;
  std::memcpy(v, s.data(), 4);
  return true;
}

bool Guest::LoadU64(uint32_t ptr, uint64_t* v) {
  std::string_view s;
  if (!Read(ptr, 8, &s)) return false;
  std::memcpy(v, s.data(), 8);
  return true;
}

}  // namespace edgelab::abi
