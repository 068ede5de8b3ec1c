// engine/call_site_guest.cc: the guest of call_sites_test's DWARF cases,
// built by the SDK (sdk/edgelab.cmake) with its DWARF flags. "fetch" calls
// Checkout, kept out of line, which calls the host function test.capture
// through Record, inlined into it. The test finds the source lines by the
// marker comments: keep each marker on its call's line.
#include "edgelab.h"

__attribute__((import_module("test"), import_name("capture"))) void test_capture(void);

namespace shop {

static inline void Record(int items) {
  if (items > 0) test_capture();  // MARK: capture
}

struct Cart {
  __attribute__((noinline)) void Checkout(int items);
  int total = 0;
};

void Cart::Checkout(int items) {
  Record(items);  // MARK: record
  total += items;
}

}  // namespace shop

EDGELAB_EXPORT("fetch") void fetch(void) {
  static shop::Cart cart;
  cart.Checkout(2);  // MARK: checkout
}
