// Small file helpers that report failures as Status values naming the path.
#pragma once

#include <sys/types.h>

#include <string>

#include "core/status.h"

namespace execgov {

// Reads a whole file; "-" reads standard input. Refuses files over max_bytes.
StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes = 64u << 20);

// Writes `data` to `path` through a temporary file in the same directory, then
// fsyncs and renames it into place. The file is created with `mode` from the
// start (0600 for secrets), so it is never readable by others, not even briefly.
// With exclusive=true an existing file is an error (AlreadyExists).
Status WriteFileAtomic(const std::string& path, const std::string& data, mode_t mode, bool exclusive = false);

}  // namespace execgov
