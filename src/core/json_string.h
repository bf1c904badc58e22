// A JSON string literal, written the way RFC 8785 (JCS, §3.2.2.2) writes one:
// '"' and '\' escaped, control characters as \b \t \n \f \r or \u00xx, every
// other byte as it is. Shared by the canonical serializer (crypto/json) and
// the log, the two places that write JSON text on every admission.
#pragma once

#include <string>
#include <string_view>

namespace execgov {

// Appends `s` as a quoted JSON string. `s` must be UTF-8 (bytes are copied,
// not checked); runs of plain bytes are appended whole.
void AppendJsonString(std::string_view s, std::string* out);

// Whether every byte of `s` is ASCII, so that AppendJsonString of it is valid
// JSON whatever its source.
bool IsAscii(std::string_view s);

// Appends `s`, which may hold any bytes, as a quoted JSON string that is
// always valid: ASCII as AppendJsonString writes it, anything else as
// nlohmann's dump writes it with invalid UTF-8 replaced by U+FFFD. For text
// that may come from anywhere (a path, a library's message, a request's
// names) on its way to a log line or a response.
void AppendJsonStringReplacingInvalid(std::string_view s, std::string* out);

}  // namespace execgov
