// Differential: the webhook's fast decoder (core/json_fast.h, simdjson) must
// give exactly what nlohmann::json::parse gives on the same bytes, types
// included (unsigned, integer, float), or decline (nullopt) and leave the
// answer to nlohmann. It never accepts a text nlohmann refuses. The same for
// the omitting form, against nlohmann's value with those members erased.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json_fast.h"

using Json = nlohmann::json;

namespace {

// Equal values of equal types, walked with an explicit stack: a deep text
// must not overflow this harness's own stack (nlohmann's == recurses).
bool Same(const Json& a, const Json& b) {
  std::vector<std::pair<const Json*, const Json*>> todo{{&a, &b}};
  while (!todo.empty()) {
    auto [x, y] = todo.back();
    todo.pop_back();
    if (x->type() != y->type()) return false;
    switch (x->type()) {
      case Json::value_t::object: {
        if (x->size() != y->size()) return false;
        auto i = x->begin();
        auto j = y->begin();
        for (; i != x->end(); ++i, ++j) {
          if (i.key() != j.key()) return false;
          todo.push_back({&*i, &*j});
        }
        break;
      }
      case Json::value_t::array:
        if (x->size() != y->size()) return false;
        for (size_t k = 0; k < x->size(); ++k) todo.push_back({&(*x)[k], &(*y)[k]});
        break;
      case Json::value_t::number_float: {
        // Bit for bit: -0.0 and 0.0 differ, as they do in a digest.
        double p = x->get<double>(), q = y->get<double>();
        if (std::memcmp(&p, &q, sizeof p) != 0) return false;
        break;
      }
      default:
        if (*x != *y) return false;
    }
  }
  return true;
}

[[noreturn]] void Fail(const char* what, std::string_view text) {
  std::fprintf(stderr, "json_fast differs from nlohmann: %s (%zu bytes)\n", what, text.size());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<Json> fast = execgov::ParseJsonFast(text);
  std::optional<Json> fast_strict = execgov::ParseJsonFast(text, /*refuse_duplicates=*/true);
  static const std::vector<execgov::JsonPath> kOmit = {{"request", "object", "metadata", "managedFields"},
                                                       {"request", "object", "status"},
                                                       {"a"}};
  std::optional<Json> fast_omitting = execgov::ParseJsonFastOmitting(text, kOmit);
  if (!fast && !fast_strict && !fast_omitting) return 0;  // declined: nothing is promised

  Json slow = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (slow.is_discarded()) Fail("the fast parse accepted a text nlohmann refuses", text);
  if (fast && !Same(*fast, slow)) Fail("another value", text);
  if (fast_strict && !Same(*fast_strict, slow)) Fail("another value (refuse_duplicates)", text);
  if (fast_strict && !fast) Fail("refuse_duplicates accepted what the plain parse declined", text);
  if (fast_omitting) {
    for (const auto& path : kOmit) {
      Json* at = &slow;
      for (size_t i = 0; at != nullptr && i < path.size(); ++i) {
        if (!at->is_object()) { at = nullptr; break; }
        auto it = at->find(std::string(path[i]));
        if (it == at->end()) { at = nullptr; break; }
        if (i + 1 == path.size()) at->erase(it), at = nullptr;
        else at = &*it;
      }
    }
    if (!Same(*fast_omitting, slow)) Fail("another value (omitting)", text);
  }
  return 0;
}
