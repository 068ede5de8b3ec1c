/* examples/hello: the smallest useful worker, and the target of `edgelab bench`.
 *
 * Any request gets "hello" with status 200. It makes exactly one host call and allocates nothing,
 * so a benchmark of it measures the runtime (HTTP, pool, engine, one import), not the guest. */
#include "edgelab.h"

EDGELAB_EXPORT("fetch") void fetch(void) {
  static const char kHello[] = "hello";
  edgelab_write(kHello, sizeof kHello - 1);
}
