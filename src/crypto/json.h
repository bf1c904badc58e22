// JSON as the artifact and the ledger need it: a strict parser that refuses
// duplicate member names (docs/design.md §3.1), and RFC 8785 (JCS) canonical output.
//
// JCS is written here rather than taken from a library because no Debian
// package provides it; nlohmann's dump() differs from RFC 8785 in number
// formatting (ECMAScript Number::toString) and key order (UTF-16 code units).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace execgov::crypto {

using Json = nlohmann::json;

// Parses one JSON text. Errors (InvalidArgument) name the byte offset; a
// duplicate member name anywhere in the text is an error, and so is nesting
// deeper than kMaxJsonDepth (core/json_fast.h) or a NUL byte, refused before
// any value is built.
StatusOr<Json> ParseJsonStrict(std::string_view text);

// RFC 8785 canonical form. Numbers are treated as IEEE-754 doubles; NaN and
// infinities cannot be represented and yield InvalidArgument, as does a
// value nesting deeper than kMaxJsonDepth (the recursion stops there).
StatusOr<std::string> Canonicalize(const Json& value);

// ECMAScript Number::toString of a finite double (RFC 8785 §3.2.2.3).
std::string FormatEcmaNumber(double value);

// Appends an integer as Canonicalize writes a JSON integer of that value:
// its digits while a double holds it exactly (|v| < 2^53), else the double's
// ECMAScript form.
void AppendCanonicalInteger(int64_t value, std::string* out);
void AppendCanonicalInteger(uint64_t value, std::string* out);

}  // namespace execgov::crypto
