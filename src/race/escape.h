// race/escape.h: bytes made safe for one line of a report or a trace.
// Threading: a pure function.
#ifndef EDGELAB_RACE_ESCAPE_H_
#define EDGELAB_RACE_ESCAPE_H_

#include <string>
#include <string_view>

namespace edgelab::race {

// Printable ASCII as is; quotes and backslashes escaped; every other byte as
// \xNN, so a line never carries raw control bytes or broken UTF-8.
std::string Escaped(std::string_view s);

}  // namespace edgelab::race

#endif  // EDGELAB_RACE_ESCAPE_H_
