// Names for the threads execgov starts, so that `top -H`, `ps -L`, perf and
// gdb tell the ledger's writer from an I/O thread.
#pragma once

#include <string_view>

namespace execgov {

// Names the calling thread. Linux keeps the first 15 bytes; a longer name is
// cut there. Naming is best effort: a failure changes nothing else.
void SetThreadName(std::string_view name);

}  // namespace execgov
