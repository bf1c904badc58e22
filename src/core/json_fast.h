// A faster parse of untrusted JSON into nlohmann::json, for the admission hot
// path: simdjson reads the text (nlohmann's lexer took ~12% of the webhook's
// CPU per admission), and the result is built as nlohmann's own parse would
// build it.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace execgov {

// The deepest nesting of arrays and objects any parse of untrusted JSON takes
// (the webhook's decode, the artifact's header and claims, JCS): one limit
// for all, docs/webhook.md. A real Pod's AdmissionReview nests 10 deep
// (request.object.spec.containers[].securityContext.capabilities.add[]);
// nlohmann copies and compares values recursively, so a deeper text could
// exhaust a thread's stack before any check on the value ran.
inline constexpr size_t kMaxJsonDepth = 64;

// Checked on the bytes before any value exists, so it recurses nowhere:
// InvalidArgument naming the limit when arrays and objects (counted outside
// strings) nest deeper than kMaxJsonDepth, or when the text holds a NUL byte,
// which is never valid JSON (RFC 8259 §2, §7) and which nlohmann's parser
// takes for the end of its input, accepting "{}\0garbage".
Status CheckJsonLimits(std::string_view text);

// The value nlohmann::json::parse(text) gives, with the same types (an
// integer >= 0 is number_unsigned, a negative one number_integer) and the
// same rule for a repeated member (the last wins). nullopt whenever this
// cannot promise that: the text is not valid JSON, is larger than
// kFastJsonMaxBytes, or holds a number simdjson does not represent as
// nlohmann would (an integer beyond 64 bits, a double out of range, -0).
// The caller then parses with nlohmann, whose answer (and error) stands.
// Each thread that parses keeps buffers for the largest text it has taken
// (a few times its size; the in-cluster webhook runs 32 such threads), so
// the bound is well above a Pod or Job with managedFields, and well below
// the 3 MiB a request body may be.
inline constexpr size_t kFastJsonMaxBytes = 64 * 1024;
// With `refuse_duplicates`, a repeated member name anywhere also gives
// nullopt, so a strict parser (crypto::ParseJsonStrict) can take the fast
// path for every text it would accept and report the duplicate itself.
std::optional<nlohmann::json> ParseJsonFast(std::string_view text, bool refuse_duplicates = false);

// A member path from the root, by member names: {"request", "object"}.
using JsonPath = std::vector<std::string_view>;
// Up to kMaxOmitted paths whose members the caller never reads.
inline constexpr size_t kMaxOmitted = 8;
// The same value, without the members at `omit` (where the text has them):
// they are checked as JSON but not built. nullopt as above, and for more than
// kMaxOmitted paths or an empty one.
std::optional<nlohmann::json> ParseJsonFastOmitting(std::string_view text, const std::vector<JsonPath>& omit);

}  // namespace execgov
