#include "ledger/record.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "core/clock.h"
#include "core/json_fast.h"
#include "core/json_string.h"
#include "crypto/json.h"

namespace execgov::ledger {
namespace {

constexpr const char* kOwned[] = {"seq", "prev", "time"};

// A forward-only cursor over one JSON text that recognizes just enough to
// find the end of each value.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[i_]; }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++i_;
    return true;
  }
  // A string token, returned with its quotes. memchr finds the closing
  // quote; an odd run of backslashes before a quote escapes it.
  bool String(std::string_view* out) {
    size_t start = i_;
    if (!Consume('"')) return false;
    for (;;) {
      const void* q = std::memchr(s_.data() + i_, '"', s_.size() - i_);
      if (!q) return false;
      size_t at = static_cast<size_t>(static_cast<const char*>(q) - s_.data());
      size_t backslashes = 0;
      while (at - backslashes > start + 1 && s_[at - backslashes - 1] == '\\') ++backslashes;
      i_ = at + 1;
      if (backslashes % 2 == 0) {
        *out = s_.substr(start, i_ - start);
        return true;
      }
    }
  }
  // Any value; nested containers are skipped by depth, strings by String().
  bool Value(std::string_view* out) {
    size_t start = i_;
    char c = Peek();
    if (c == '"') return String(out);
    if (c == '{' || c == '[') {
      int depth = 0;
      while (i_ < s_.size()) {
        char d = s_[i_];
        if (d == '"') {
          std::string_view ignored;
          if (!String(&ignored)) return false;
          continue;
        }
        ++i_;
        if (d == '{' || d == '[') {
          ++depth;
        } else if (d == '}' || d == ']') {
          if (--depth == 0) {
            *out = s_.substr(start, i_ - start);
            return true;
          }
        }
      }
      return false;
    }
    while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']') ++i_;
    if (i_ == start) return false;
    *out = s_.substr(start, i_ - start);
    return true;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

std::string_view Unquote(std::string_view token) { return token.substr(1, token.size() - 2); }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is not canonical
}

// crypto::ParseSha256Ref without allocating: it runs once per record verified.
bool ParseHashRef(std::string_view ref, crypto::Hash* out) {
  constexpr std::string_view kPrefix = "sha256:";
  if (ref.size() != kPrefix.size() + 64 || ref.substr(0, kPrefix.size()) != kPrefix) return false;
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexDigit(ref[kPrefix.size() + 2 * i]), lo = HexDigit(ref[kPrefix.size() + 2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

namespace {

// CanonicalEntry's rules, over what an entry holds: whether it has a member
// of each name, and its type when that is a string (else nullptr).
template <typename Has>
Status CheckEntryShape(const Has& has, const std::string* type) {
  for (const char* k : kOwned) {
    if (has(k)) return InvalidArgument(std::string("a ledger entry may not set \"") + k + "\": the ledger does");
  }
  if (type == nullptr || type->empty()) return InvalidArgument("a ledger entry needs a string \"type\"");
  if (*type == "checkpoint") return InvalidArgument("checkpoint records are written by the ledger itself");
  if (has("checkpoint")) return InvalidArgument("\"checkpoint\" is reserved for checkpoint records");
  return Status::Ok();
}

}  // namespace

namespace {

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026

// Whether a string anywhere in `v` is longer than kMaxStringBytes; the
// caller's entries nest a level or two, and Canonicalize bounds the depth.
bool HasLongString(const nlohmann::json& v, size_t depth = 0) {
  if (v.is_string()) return v.get_ref<const std::string&>().size() > kMaxStringBytes;
  if (!v.is_structured() || depth >= kMaxJsonDepth) return false;
  for (const auto& e : v) {
    if (HasLongString(e, depth + 1)) return true;
  }
  return false;
}

void BoundStrings(nlohmann::json* v, size_t depth = 0) {
  if (v->is_string()) {
    std::string& s = v->get_ref<std::string&>();
    if (s.size() > kMaxStringBytes) s = BoundedString(s, kMaxStringBytes);
    return;
  }
  if (!v->is_structured() || depth >= kMaxJsonDepth) return;
  for (auto& e : *v) BoundStrings(&e, depth + 1);
}

Status CheckEntrySize(size_t bytes) {
  if (bytes <= kMaxEntryBytes) return Status::Ok();
  return InvalidArgument("a ledger entry of " + std::to_string(bytes) + " bytes is larger than the limit of " +
                         std::to_string(kMaxEntryBytes));
}

}  // namespace

std::string BoundedString(std::string_view value, size_t max_bytes) {
  if (value.size() <= max_bytes) return std::string(value);
  std::string marker = std::string(kEllipsis) + "[truncated, " + std::to_string(value.size()) + " bytes]";
  size_t keep = max_bytes > marker.size() ? max_bytes - marker.size() : 0;
  // Back to the start of a character: never past a lead byte into its
  // continuation bytes (10xxxxxx).
  while (keep > 0 && (static_cast<unsigned char>(value[keep]) & 0xC0) == 0x80) --keep;
  return std::string(value.substr(0, keep)) + marker;
}

StatusOr<std::string> CanonicalEntry(const nlohmann::json& entry) {
  if (!entry.is_object()) return InvalidArgument("a ledger entry must be a JSON object");
  auto type = entry.find("type");
  const std::string* type_string =
      type != entry.end() && type->is_string() ? &type->get_ref<const std::string&>() : nullptr;
  EXECGOV_RETURN_IF_ERROR(CheckEntryShape([&](const char* k) { return entry.contains(k); }, type_string));
  std::string canonical;
  if (HasLongString(entry)) {  // copied only then: the usual entry is small
    nlohmann::json bounded = entry;
    BoundStrings(&bounded);
    EXECGOV_ASSIGN_OR_RETURN(canonical, crypto::Canonicalize(bounded));
  } else {
    EXECGOV_ASSIGN_OR_RETURN(canonical, crypto::Canonicalize(entry));
  }
  EXECGOV_RETURN_IF_ERROR(CheckEntrySize(canonical.size()));
  return canonical;
}

EntryBuilder& EntryBuilder::Str(std::string_view name, std::string_view value, size_t max_bytes) {
  std::string v;
  if (value.size() > max_bytes) {
    AppendJsonStringReplacingInvalid(BoundedString(value, max_bytes), &v);
  } else {
    AppendJsonStringReplacingInvalid(value, &v);
  }
  members_.emplace_back(name, std::move(v));
  return *this;
}

EntryBuilder& EntryBuilder::Int(std::string_view name, int64_t value) {
  std::string v;
  crypto::AppendCanonicalInteger(value, &v);
  members_.emplace_back(name, std::move(v));
  return *this;
}

EntryBuilder& EntryBuilder::Obj(std::string_view name, EntryBuilder&& value) {
  // The nested names are checked now, while they are still apart.
  Status st = value.CheckNames();
  if (!st.ok() && bad_.ok()) bad_ = st;
  members_.emplace_back(name, std::move(value).Serialize());
  return *this;
}

Status EntryBuilder::CheckNames() const {
  if (!bad_.ok()) return bad_;
  for (size_t i = 0; i < members_.size(); ++i) {
    const std::string& n = members_[i].first;
    for (unsigned char c : n) {
      if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\') {
        return InvalidArgument("a ledger entry member name must be plain ASCII: \"" + n + "\"");
      }
    }
    for (size_t j = 0; j < i; ++j) {
      if (members_[j].first == n) return InvalidArgument("a ledger entry sets \"" + n + "\" twice");
    }
  }
  return Status::Ok();
}

std::string EntryBuilder::Serialize() && {
  std::sort(members_.begin(), members_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t size = 2;
  for (const auto& [n, v] : members_) size += n.size() + v.size() + 4;
  std::string out;
  out.reserve(size);
  out.push_back('{');
  for (const auto& [n, v] : members_) {
    if (out.size() > 1) out.push_back(',');
    out.push_back('"');
    out.append(n);
    out.append("\":");
    out.append(v);
  }
  out.push_back('}');
  return out;
}

StatusOr<Entry> EntryBuilder::FromJson(const nlohmann::json& entry) {
  EXECGOV_ASSIGN_OR_RETURN(std::string canonical, CanonicalEntry(entry));
  return Entry(std::move(canonical));
}

StatusOr<Entry> EntryBuilder::Build() && {
  EXECGOV_RETURN_IF_ERROR(CheckNames());
  // The type as written between its quotes: empty, or "checkpoint", exactly
  // when the string is (neither needs an escape), which is all that is asked.
  std::string type;
  bool type_is_string = false;
  for (const auto& [n, v] : members_) {
    if (n == "type" && v.size() >= 2 && v.front() == '"') {
      type = v.substr(1, v.size() - 2);
      type_is_string = true;
    }
  }
  auto has = [&](const char* k) {
    return std::any_of(members_.begin(), members_.end(), [&](const auto& m) { return m.first == k; });
  };
  EXECGOV_RETURN_IF_ERROR(CheckEntryShape(has, type_is_string ? &type : nullptr));
  std::string canonical = std::move(*this).Serialize();
  EXECGOV_RETURN_IF_ERROR(CheckEntrySize(canonical.size()));
  return Entry(std::move(canonical));
}

StatusOr<std::string> BuildRecord(const nlohmann::json& entry, uint64_t seq, const crypto::Hash& prev,
                                  std::chrono::system_clock::time_point time) {
  nlohmann::json record = entry;
  record["seq"] = seq;
  record["prev"] = crypto::HashToSha256Ref(prev);
  record["time"] = FormatRfc3339(time, /*with_millis=*/true);
  return crypto::Canonicalize(record);
}

StatusOr<std::string> SpliceRecord(std::string_view canonical_entry, uint64_t seq, const crypto::Hash& prev,
                                   std::chrono::system_clock::time_point time) {
  // Members in JCS order; ours are ASCII, and an ASCII key sorts against any
  // key the same by UTF-8 bytes as by UTF-16 code units. A key with an escape
  // is compared in escaped form, which could differ: those take the slow path.
  const std::pair<std::string_view, std::string> ours[] = {
      {"prev", "\"" + crypto::HashToSha256Ref(prev) + "\""},
      {"seq", std::to_string(seq)},
      {"time", "\"" + FormatRfc3339(time, /*with_millis=*/true) + "\""},
  };
  std::string out;
  out.reserve(canonical_entry.size() + 140);
  out.push_back('{');
  size_t next = 0;
  auto emit = [&](std::string_view key, std::string_view value) {
    if (out.size() > 1) out.push_back(',');
    out.push_back('"');
    out.append(key);
    out.append("\":");
    out.append(value);
  };
  Cursor c(canonical_entry);
  if (!c.Consume('{')) return InvalidArgument("not a canonical JSON object");
  if (!c.Consume('}')) {
    for (;;) {
      std::string_view key, value;
      if (!c.String(&key) || !c.Consume(':') || !c.Value(&value)) return InvalidArgument("not canonical JSON");
      key = Unquote(key);
      if (key.find('\\') != std::string_view::npos) {
        EXECGOV_ASSIGN_OR_RETURN(auto entry, crypto::ParseJsonStrict(canonical_entry));
        return BuildRecord(entry, seq, prev, time);
      }
      for (; next < 3 && ours[next].first < key; ++next) emit(ours[next].first, ours[next].second);
      emit(key, value);
      if (c.Consume('}')) break;
      if (!c.Consume(',')) return InvalidArgument("not canonical JSON");
    }
  }
  for (; next < 3; ++next) emit(ours[next].first, ours[next].second);
  out.push_back('}');
  return out;
}

StatusOr<std::string> BuildCheckpointRecord(const std::string& note, uint64_t seq, const crypto::Hash& prev,
                                            std::chrono::system_clock::time_point time) {
  return BuildRecord({{"type", "checkpoint"}, {"checkpoint", note}}, seq, prev, time);
}

StatusOr<RecordHeader> ScanRecord(std::string_view bytes) {
  Cursor c(bytes);
  if (!c.Consume('{')) return InvalidArgument("not a JSON object");
  RecordHeader h;
  bool have_seq = false, have_prev = false, have_type = false, have_time = false;
  if (!c.Consume('}')) {
    for (;;) {
      std::string_view key, value;
      if (!c.String(&key) || !c.Consume(':') || !c.Value(&value)) return InvalidArgument("not valid JSON");
      key = Unquote(key);
      if (key == "seq") {
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), h.seq);
        if (ec != std::errc() || p != value.data() + value.size()) {
          return InvalidArgument("\"seq\" is not a non-negative integer");
        }
        have_seq = true;
      } else if (key == "prev") {
        if (value.size() < 2 || value.front() != '"' || !ParseHashRef(Unquote(value), &h.prev)) {
          return InvalidArgument("\"prev\" is not a sha256:<hex> reference");
        }
        have_prev = true;
      } else if (key == "type" || key == "time") {
        if (value.front() != '"') return InvalidArgument("\"" + std::string(key) + "\" is not a string");
        (key == "type" ? h.type : h.time) = Unquote(value);
        (key == "type" ? have_type : have_time) = true;
      } else if (key == "checkpoint") {
        if (value.front() != '"') return InvalidArgument("\"checkpoint\" is not a string");
        h.checkpoint_json = value;
      }
      if (c.Consume('}')) break;
      if (!c.Consume(',')) return InvalidArgument("not valid JSON");
    }
  }
  if (!c.AtEnd()) return InvalidArgument("bytes after the record's closing brace");
  if (!have_seq) return InvalidArgument("no \"seq\"");
  if (!have_prev) return InvalidArgument("no \"prev\"");
  if (!have_type) return InvalidArgument("no \"type\"");
  if (!have_time) return InvalidArgument("no \"time\"");
  return h;
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

StatusOr<std::string> CheckpointNoteOf(const RecordHeader& header) {
  if (header.checkpoint_json.empty()) return InvalidArgument("a checkpoint record without a \"checkpoint\" note");
  EXECGOV_ASSIGN_OR_RETURN(auto parsed, crypto::ParseJsonStrict(header.checkpoint_json));
  if (!parsed.is_string()) return InvalidArgument("\"checkpoint\" is not a string");
  return parsed.get<std::string>();
}

}  // namespace execgov::ledger
