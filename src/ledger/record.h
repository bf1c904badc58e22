// Ledger records (docs/design.md §7.1). A record is a JSON object whose bytes are its
// RFC 8785 canonical form; its hash is the RFC 9162 leaf hash of those bytes.
// The ledger owns `seq`, `prev` and `time`; callers supply the content
// (type, decision, reason, object, user, artifact, parent, intent, policy).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "crypto/sha256.h"

namespace execgov::ledger {

// The `prev` of record 0: 32 zero bytes.
inline constexpr crypto::Hash kGenesisPrev{};

// What a record may carry (docs/ledger.md). A request can put any bytes in
// the fields a record copies (names, the user, an unverified artifact's
// claims), so each string has a bound in bytes of UTF-8; a longer one is cut
// at a character boundary and ends with a marker saying how long it was
// (BoundedString), the marker counted within the bound. Escaping can make a
// string's JSON up to six times its bytes (a control character is \u00XX).
//
// Any string value without a tighter bound (the user, an intent, a message).
inline constexpr size_t kMaxStringBytes = 1024;
// The API server's own limits: a DNS-1123 label (namespaces, and the
// longest kind it serves is far shorter), a DNS-1123 subdomain (object and
// policy names); a UID is a 36-byte UUID.
inline constexpr size_t kMaxNamespaceBytes = 63;
inline constexpr size_t kMaxKindBytes = 63;
inline constexpr size_t kMaxNameBytes = 253;
inline constexpr size_t kMaxUidBytes = 128;
// An artifact's iss, sub, kid, jti and digests, and a parent reference.
inline constexpr size_t kMaxClaimBytes = 256;
// A whole entry in canonical form: larger is refused (InvalidArgument). The
// bounds above keep every entry execgov writes well within it, escapes and
// all; with seq, prev and time a record is at most kMaxRecordBytes, a
// quarter of what a C2SP tlog-tiles entry may hold (64 KiB).
inline constexpr size_t kMaxEntryBytes = 32 * 1024;
inline constexpr size_t kMaxRecordBytes = kMaxEntryBytes + 256;

// `value` if it has at most `max_bytes` bytes, else its longest prefix that
// ends on a UTF-8 character boundary followed by "…[truncated, N bytes]"
// (N the original length), max_bytes in all. max_bytes must leave room for
// the marker (at least 40).
std::string BoundedString(std::string_view value, size_t max_bytes);

// Checks a caller's entry: a JSON object without the ledger-owned members
// (seq, prev, time), with a string `type` that is not "checkpoint", and
// representable in canonical form. Every string value in it is bounded by
// kMaxStringBytes (BoundedString) and the result by kMaxEntryBytes. Returns
// its canonical bytes; InvalidArgument otherwise.
StatusOr<std::string> CanonicalEntry(const nlohmann::json& entry);

// An entry that passed CanonicalEntry's checks, in canonical form. Made only
// by EntryBuilder; what Ledger::AppendEntryAsync takes.
class Entry {
 public:
  const std::string& canonical() const& { return canonical_; }
  std::string canonical() && { return std::move(canonical_); }

 private:
  friend class EntryBuilder;
  explicit Entry(std::string canonical) : canonical_(std::move(canonical)) {}
  std::string canonical_;
};

// Writes an entry straight into canonical form, member by member: the bytes
// CanonicalEntry gives for an nlohmann object of the same members, without
// building that object and walking it again. The admission handler writes
// one per governed decision, where the tree and its canonicalization were
// ~7% of the CPU. Member names must be ASCII with nothing to escape (they
// then sort by bytes as JCS sorts them). A string value that is not valid
// UTF-8 (none read from parsed JSON is; a policy file's name could be) has
// the invalid bytes replaced by U+FFFD, so a record is always valid JSON,
// where CanonicalEntry would copy them.
class EntryBuilder {
 public:
  // The value is bounded by `max_bytes` (BoundedString).
  EntryBuilder& Str(std::string_view name, std::string_view value, size_t max_bytes = kMaxStringBytes);
  EntryBuilder& Int(std::string_view name, int64_t value);
  EntryBuilder& Obj(std::string_view name, EntryBuilder&& value);
  // The entry, or InvalidArgument: CanonicalEntry's rules (kMaxEntryBytes
  // too), a name given twice, or a name that is not plain ASCII.
  StatusOr<Entry> Build() &&;
  // An entry from a parsed object (one another replica built and forwarded,
  // webhook/ledger_forward.h): CanonicalEntry's checks and bytes.
  static StatusOr<Entry> FromJson(const nlohmann::json& entry);

 private:
  Status CheckNames() const;
  std::string Serialize() &&;  // sorts the members
  std::vector<std::pair<std::string, std::string>> members_;  // name, canonical value
  Status bad_;  // the first error found in a nested object
};

// The canonical bytes of `entry` with seq, prev and time added.
StatusOr<std::string> BuildRecord(const nlohmann::json& entry, uint64_t seq, const crypto::Hash& prev,
                                  std::chrono::system_clock::time_point time);

// The same bytes as BuildRecord, from an entry already in canonical form (as
// CanonicalEntry returns it): seq, prev and time are spliced in at their
// sorted places instead of canonicalizing again. The ledger's single writer
// thread does only this, so canonicalization runs in the callers' threads.
StatusOr<std::string> SpliceRecord(std::string_view canonical_entry, uint64_t seq, const crypto::Hash& prev,
                                   std::chrono::system_clock::time_point time);

// The canonical bytes of a checkpoint record holding a signed note.
StatusOr<std::string> BuildCheckpointRecord(const std::string& note, uint64_t seq, const crypto::Hash& prev,
                                            std::chrono::system_clock::time_point time);

// The ledger-owned members of a record, found by a single pass over its
// top-level members without building a DOM, so that verifying a million
// records is bound by SHA-256 rather than by JSON parsing. Views point into
// the scanned bytes.
struct RecordHeader {
  uint64_t seq = 0;
  crypto::Hash prev{};
  std::string_view type;
  std::string_view time;
  std::string_view checkpoint_json;  // the raw JSON string token (with quotes) of "checkpoint", if any
};

// InvalidArgument (naming what is wrong) unless `bytes` is one JSON object
// whose seq is a non-negative integer, prev a "sha256:<hex>" reference, and
// type and time strings.
StatusOr<RecordHeader> ScanRecord(std::string_view bytes);

// Splits text at '\n' (records are stored one per line, notes are lines
// too); a final line without a newline is included.
std::vector<std::string_view> SplitLines(std::string_view text);

// The note text of a checkpoint record (the "checkpoint" member unescaped).
StatusOr<std::string> CheckpointNoteOf(const RecordHeader& header);

}  // namespace execgov::ledger
