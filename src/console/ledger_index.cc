#include "console/ledger_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "core/clock.h"
#include "core/json_fast.h"
#include "crypto/encoding.h"
#include "crypto/sha256.h"
#include "ledger/checkpoint.h"
#include "ledger/record.h"
#include "ledger/story.h"

namespace execgov::console {
namespace {

using nlohmann::json;

// Search keys are kept as 32-bit hashes (0: absent): a match is a
// candidate, confirmed against the parsed record before it is shown.
uint32_t Key(std::string_view s) {
  if (s.empty()) return 0;
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  uint32_t k = static_cast<uint32_t>(h ^ (h >> 32));
  return k == 0 ? 1 : k;
}

enum RowFlags : uint32_t {
  kMalformed = 1,      // not a record, or its seq is not its place
  kNextUnlinked = 2,   // the next record's prev is not this record's hash
  kCheckpoint = 4,
};

struct Row {
  uint64_t offset = 0;  // file: ledgers only
  uint32_t length = 0;
  uint32_t flags = 0;
  int64_t time_ms = 0;
  uint32_t name = 0, object = 0, ns = 0, kind = 0, uid = 0, jti = 0, sub = 0, iss = 0, kid = 0, digest = 0,
           artifact_digest = 0, decision = 0, reason = 0, type = 0, parent = 0;
};

std::string StringAt(const json& j, std::initializer_list<const char*> path) {
  const json* cur = &j;
  for (const char* p : path) {
    if (!cur->is_object()) return {};
    auto it = cur->find(p);
    if (it == cur->end()) return {};
    cur = &*it;
  }
  return cur->is_string() ? cur->get<std::string>() : std::string();
}

json Parse(std::string_view bytes) {
  if (auto fast = ParseJsonFast(bytes)) return std::move(*fast);
  if (!CheckJsonLimits(bytes).ok()) return json();
  return json::parse(bytes, nullptr, /*allow_exceptions=*/false);
}

Status Errno(const std::string& what, const std::string& path) {
  return Unavailable(what + " " + path + ": " + std::strerror(errno));
}

bool Matches(const RecordFilter& f, const json& r) {
  auto eq = [](const std::string& want, const std::string& have) { return want.empty() || want == have; };
  const std::string ns = StringAt(r, {"object", "namespace"}), name = StringAt(r, {"object", "name"});
  if (!f.object.empty() && f.object != ns + "/" + name) return false;
  if (!f.digest.empty() && f.digest != StringAt(r, {"digest"}) && f.digest != StringAt(r, {"artifact", "digest"})) {
    return false;
  }
  return eq(f.name, name) && eq(f.ns, ns) && eq(f.kind, StringAt(r, {"object", "kind"})) &&
         eq(f.uid, StringAt(r, {"object", "uid"})) && eq(f.jti, ledger::StoryJti(r)) &&
         eq(f.sub, StringAt(r, {"artifact", "sub"})) && eq(f.iss, StringAt(r, {"artifact", "iss"})) &&
         eq(f.kid, StringAt(r, {"artifact", "kid"})) && eq(f.decision, StringAt(r, {"decision"})) &&
         eq(f.reason, StringAt(r, {"reason"})) && eq(f.type, StringAt(r, {"type"}));
}

}  // namespace

bool RecordFilter::Empty() const {
  return name.empty() && object.empty() && ns.empty() && kind.empty() && uid.empty() && jti.empty() && sub.empty() &&
         iss.empty() && kid.empty() && digest.empty() && decision.empty() && reason.empty() && type.empty() &&
         !since_ms && !until_ms;
}

struct LedgerIndex::Impl {
  std::string url;
  std::string path;  // file: ledgers
  std::unique_ptr<ledger::Backend> backend;  // other ledgers
  std::mutex mu;
  uint64_t offset = 0;  // file: end of the last complete line indexed
  uint64_t generation = 0;
  std::vector<Row> rows;
  std::vector<ledger::Hash> leaves;
  std::vector<std::string> bytes;  // other ledgers: each record's bytes
  std::optional<LatestCheckpoint> checkpoint;
  std::vector<uint64_t> broken;

  void ClearLocked() {
    offset = 0;
    ++generation;
    rows.clear();
    leaves.clear();
    bytes.clear();
    checkpoint.reset();
    broken.clear();
  }

  void MarkBroken(uint64_t seq, uint32_t flag) {
    if ((rows[seq].flags & (kMalformed | kNextUnlinked)) == 0 && broken.size() < 1000) broken.push_back(seq);
    rows[seq].flags |= flag;
  }

  // Folds record bytes in as record rows.size().
  void Fold(std::string_view record, uint64_t at) {
    const uint64_t seq = rows.size();
    Row row;
    row.offset = at;
    row.length = static_cast<uint32_t>(record.size());
    const ledger::Hash h = ledger::LeafHash(record);
    leaves.push_back(h);
    rows.push_back(row);
    Row& r = rows.back();
    auto hdr = ledger::ScanRecord(record);
    if (!hdr.ok() || hdr->seq != seq) {
      MarkBroken(seq, kMalformed);
    } else if (seq > 0 && hdr->prev != leaves[seq - 1]) {
      MarkBroken(seq - 1, kNextUnlinked);
    }
    if (hdr.ok()) {
      if (auto t = ParseRfc3339(hdr->time)) {
        r.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
      }
      if (hdr->type == "checkpoint") {
        r.flags |= kCheckpoint;
        r.type = Key("checkpoint");
        auto note = ledger::CheckpointNoteOf(*hdr);
        auto cp = note.ok() ? ledger::ParseCheckpoint(*note) : note.status();
        if (cp.ok() && cp->size == seq) checkpoint = LatestCheckpoint{seq, cp->size, *note};
        return;
      }
    }
    json j = Parse(record);
    if (!j.is_object()) return;
    const std::string ns = StringAt(j, {"object", "namespace"}), name = StringAt(j, {"object", "name"});
    r.name = Key(name);
    r.ns = Key(ns);
    r.object = name.empty() ? 0 : Key(ns + "/" + name);
    r.kind = Key(StringAt(j, {"object", "kind"}));
    r.uid = Key(StringAt(j, {"object", "uid"}));
    r.jti = Key(ledger::StoryJti(j));
    r.sub = Key(StringAt(j, {"artifact", "sub"}));
    r.iss = Key(StringAt(j, {"artifact", "iss"}));
    r.kid = Key(StringAt(j, {"artifact", "kid"}));
    r.digest = Key(StringAt(j, {"digest"}));
    r.artifact_digest = Key(StringAt(j, {"artifact", "digest"}));
    r.decision = Key(StringAt(j, {"decision"}));
    r.reason = Key(StringAt(j, {"reason"}));
    r.type = Key(StringAt(j, {"type"}));
    r.parent = Key(StringAt(j, {"parent"}));
  }

  StatusOr<std::string> ReadLocked(uint64_t seq) {
    if (seq >= rows.size()) {
      return NotFound("the ledger has " + std::to_string(rows.size()) + " records; there is no seq " +
                      std::to_string(seq));
    }
    if (path.empty()) return bytes[seq];
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open", path);
    std::string out(rows[seq].length, '\0');
    size_t got = 0;
    while (got < out.size()) {
      ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(rows[seq].offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return DataLoss(path + " is shorter than the records indexed from it");
      }
      got += static_cast<size_t>(n);
    }
    ::close(fd);
    return out;
  }

  json ParsedLocked(uint64_t seq) {
    auto b = ReadLocked(seq);
    return b.ok() ? Parse(*b) : json();
  }

  Status RefreshFileLocked() {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open", path);
    struct stat sb;
    if (::fstat(fd, &sb) != 0) {
      ::close(fd);
      return Errno("cannot stat", path);
    }
    const uint64_t file_size = static_cast<uint64_t>(sb.st_size);
    bool rewritten = file_size < offset;
    if (!rewritten && !rows.empty()) {
      // The last record indexed must still be there, unchanged.
      ::close(fd);
      auto last = ReadLocked(rows.size() - 1);
      rewritten = !last.ok() || ledger::LeafHash(*last) != leaves.back();
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return Errno("cannot open", path);
    }
    if (rewritten) ClearLocked();
    if (file_size == offset) {
      ::close(fd);
      return Status::Ok();
    }
    std::string buf(4u << 20, '\0');
    size_t have = 0;
    uint64_t pos = offset;
    Status st;
    for (;;) {
      if (have == buf.size()) buf.resize(buf.size() * 2);
      ssize_t n = ::pread(fd, buf.data() + have, buf.size() - have, static_cast<off_t>(pos + have));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        st = Errno("cannot read", path);
        break;
      }
      if (n == 0) break;
      size_t filled = have + static_cast<size_t>(n), start = 0;
      while (const char* nl = static_cast<const char*>(std::memchr(buf.data() + start, '\n', filled - start))) {
        size_t len = static_cast<size_t>(nl - (buf.data() + start));
        Fold(std::string_view(buf.data() + start, len), pos + start);
        start += len + 1;
        if (start >= filled) break;
      }
      pos += start;
      have = filled - start;
      if (start > 0 && have > 0) std::memmove(buf.data(), buf.data() + start, have);
    }
    ::close(fd);
    offset = pos;  // a torn last line waits for its end
    return st;
  }

  Status RefreshBackendLocked() {
    return backend->Scan(rows.size(), UINT64_MAX, [&](uint64_t, std::string_view b) -> Status {
      bytes.emplace_back(b);
      Fold(b, 0);
      return Status::Ok();
    });
  }

  Status RefreshLocked() { return path.empty() ? RefreshBackendLocked() : RefreshFileLocked(); }

  // Seqs whose leaf hash is `h`.
  std::optional<uint64_t> FindHashLocked(const ledger::Hash& h) const {
    for (uint64_t i = 0; i < leaves.size(); ++i) {
      if (leaves[i] == h) return i;
    }
    return std::nullopt;
  }
};

LedgerIndex::LedgerIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LedgerIndex::~LedgerIndex() = default;

StatusOr<std::unique_ptr<LedgerIndex>> LedgerIndex::Open(const std::string& url) {
  auto impl = std::make_unique<Impl>();
  impl->url = url;
  if (url.rfind("file:", 0) == 0) {
    impl->path = url.substr(5);
    if (impl->path.empty()) return InvalidArgument("file: ledger URL without a path");
  } else {
    ledger::BackendOptions opts;
    opts.read_only = true;
    opts.compact = false;
    EXECGOV_ASSIGN_OR_RETURN(impl->backend, ledger::OpenBackend(url, opts));
    EXECGOV_ASSIGN_OR_RETURN(uint64_t first, impl->backend->First());
    if (first > 0) {
      return FailedPrecondition("records 0.." + std::to_string(first - 1) +
                                " of this ledger were moved to an archive; the console reads whole ledgers only "
                                "(point --ledger at the archive, or use execgov ledger show --archive)");
    }
  }
  std::unique_ptr<LedgerIndex> index(new LedgerIndex(std::move(impl)));
  EXECGOV_RETURN_IF_ERROR(index->Refresh());
  return index;
}

Status LedgerIndex::Refresh() {
  std::lock_guard lock(impl_->mu);
  return impl_->RefreshLocked();
}

uint64_t LedgerIndex::size() {
  std::lock_guard lock(impl_->mu);
  return impl_->rows.size();
}

uint64_t LedgerIndex::generation() {
  std::lock_guard lock(impl_->mu);
  return impl_->generation;
}

std::optional<LatestCheckpoint> LedgerIndex::latest_checkpoint() {
  std::lock_guard lock(impl_->mu);
  return impl_->checkpoint;
}

std::vector<uint64_t> LedgerIndex::broken() {
  std::lock_guard lock(impl_->mu);
  std::vector<uint64_t> out = impl_->broken;
  std::sort(out.begin(), out.end());
  return out;
}

bool LedgerIndex::Broken(uint64_t seq) {
  std::lock_guard lock(impl_->mu);
  return seq < impl_->rows.size() && (impl_->rows[seq].flags & (kMalformed | kNextUnlinked)) != 0;
}

std::optional<int64_t> LedgerIndex::RecordTime(uint64_t seq) {
  std::lock_guard lock(impl_->mu);
  if (seq >= impl_->rows.size() || impl_->rows[seq].time_ms == 0) return std::nullopt;
  return impl_->rows[seq].time_ms;
}

StatusOr<Page> LedgerIndex::Query(const RecordFilter& f, std::optional<uint64_t> before, size_t limit) {
  if (limit == 0 || limit > kMaxPageSize) return InvalidArgument("limit must be 1.." + std::to_string(kMaxPageSize));
  std::lock_guard lock(impl_->mu);
  const uint64_t n = impl_->rows.size();
  uint64_t i = std::min<uint64_t>(before.value_or(n), n);
  Page page;
  if (f.Empty()) {
    for (; i > 0 && page.seqs.size() < limit; --i) page.seqs.push_back(i - 1);
    if (i > 0) page.next_before = i;
    return page;
  }
  const uint32_t name = Key(f.name), object = Key(f.object), ns = Key(f.ns), kind = Key(f.kind), uid = Key(f.uid),
                 jti = Key(f.jti), sub = Key(f.sub), iss = Key(f.iss), kid = Key(f.kid), digest = Key(f.digest),
                 decision = Key(f.decision), reason = Key(f.reason), type = Key(f.type);
  auto ok = [](uint32_t want, uint32_t have) { return want == 0 || want == have; };
  for (; i > 0 && page.seqs.size() < limit; --i) {
    const Row& r = impl_->rows[i - 1];
    if (!ok(name, r.name) || !ok(object, r.object) || !ok(ns, r.ns) || !ok(kind, r.kind) || !ok(uid, r.uid) ||
        !ok(jti, r.jti) || !ok(sub, r.sub) || !ok(iss, r.iss) || !ok(kid, r.kid) || !ok(decision, r.decision) ||
        !ok(reason, r.reason) || !ok(type, r.type)) {
      continue;
    }
    if (digest != 0 && digest != r.digest && digest != r.artifact_digest) continue;
    if (f.since_ms && r.time_ms < *f.since_ms) continue;
    if (f.until_ms && r.time_ms > *f.until_ms) continue;
    // Confirm the candidate: a hash collision must not put a record in a
    // page it does not belong to. Checkpoints carry none of the keys.
    bool only_type = name == 0 && object == 0 && ns == 0 && kind == 0 && uid == 0 && jti == 0 && sub == 0 &&
                     iss == 0 && kid == 0 && digest == 0 && decision == 0 && reason == 0;
    if (!(only_type && (r.flags & kCheckpoint)) && !Matches(f, impl_->ParsedLocked(i - 1))) continue;
    page.seqs.push_back(i - 1);
  }
  if (i > 0) page.next_before = i;
  return page;
}

StatusOr<std::string> LedgerIndex::Record(uint64_t seq) {
  std::lock_guard lock(impl_->mu);
  return impl_->ReadLocked(seq);
}

StatusOr<ledger::Hash> LedgerIndex::LeafHash(uint64_t seq) {
  std::lock_guard lock(impl_->mu);
  if (seq >= impl_->leaves.size()) return NotFound("no seq " + std::to_string(seq));
  return impl_->leaves[seq];
}

StatusOr<nlohmann::json> LedgerIndex::InclusionProof(uint64_t seq) {
  std::lock_guard lock(impl_->mu);
  EXECGOV_ASSIGN_OR_RETURN(std::string record, impl_->ReadLocked(seq));
  if (!impl_->checkpoint || impl_->checkpoint->size <= seq) {
    return FailedPrecondition("no checkpoint covers seq " + std::to_string(seq) + " yet");
  }
  const LatestCheckpoint& cp = *impl_->checkpoint;
  EXECGOV_ASSIGN_OR_RETURN(ledger::Checkpoint parsed, ledger::ParseCheckpoint(cp.note));
  json path = json::array();
  for (const auto& h : ledger::InclusionProof(seq, cp.size, impl_->leaves)) {
    path.push_back(crypto::Base64Encode(crypto::HashBytes(h)));
  }
  return json{{"origin", parsed.origin},
              {"seq", seq},
              {"size", cp.size},
              {"leafHash", crypto::Base64Encode(crypto::HashBytes(impl_->leaves[seq]))},
              {"proof", path},
              {"record", record},
              {"checkpoint", cp.note}};
}

StatusOr<std::vector<std::string>> LedgerIndex::ConsistencyProof(uint64_t from, uint64_t to) {
  std::lock_guard lock(impl_->mu);
  if (from == 0 || from > to || to > impl_->leaves.size()) {
    return InvalidArgument("a consistency proof needs 0 < from <= to <= " + std::to_string(impl_->leaves.size()));
  }
  std::vector<std::string> out;
  for (const auto& h : ledger::ConsistencyProof(from, to, impl_->leaves)) {
    out.push_back(crypto::Base64Encode(crypto::HashBytes(h)));
  }
  return out;
}

StatusOr<ledger::Hash> LedgerIndex::RootAt(uint64_t size) {
  std::lock_guard lock(impl_->mu);
  if (size > impl_->leaves.size()) return InvalidArgument("the ledger has fewer records");
  ledger::MerkleFrontier f;
  for (uint64_t i = 0; i < size; ++i) f.Append(impl_->leaves[i]);
  return f.Root();
}

StatusOr<std::vector<uint64_t>> LedgerIndex::Story(uint64_t seq, std::vector<uint64_t>* parents) {
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  if (seq >= m.rows.size()) return NotFound("no seq " + std::to_string(seq));
  // The story's keys (ledger/story.h): the jtis and object uids of its
  // records. A record joins when it carries one of them; what it carries
  // itself is followed unless it was refused.
  std::unordered_set<std::string> jtis, uids;
  std::unordered_set<uint32_t> jti_keys, uid_keys;
  auto learn = [&](const json& r) {
    bool grew = false;
    if (std::string j = ledger::StoryJti(r); !j.empty() && jtis.size() < kMaxStoryRecords && jtis.insert(j).second) {
      jti_keys.insert(Key(j));
      grew = true;
    }
    if (std::string u = ledger::StoryUid(r); !u.empty() && uids.size() < kMaxStoryRecords && uids.insert(u).second) {
      uid_keys.insert(Key(u));
      grew = true;
    }
    return grew;
  };
  std::vector<uint64_t> story;
  std::unordered_set<uint64_t> in_story;
  auto add = [&](uint64_t i) {
    if (in_story.insert(i).second) story.push_back(i);
  };
  add(seq);
  learn(m.ParsedLocked(seq));
  // Passes over the rows (hashed keys, in memory), each confirming a
  // candidate against its parsed record. A key learned at row i can only
  // have been missed by rows before i, so the next pass stops there: one
  // pass when every key is known before the first record that carries it,
  // two in the common case (from a Pod, the request's uid is learned from
  // its attach admission, after its approvals and grant), at most
  // kMaxStoryPasses.
  uint64_t end = m.rows.size();
  for (int pass = 0; pass < kMaxStoryPasses && end > 0 && story.size() < kMaxStoryRecords; ++pass) {
    uint64_t missed_before = 0;
    for (uint64_t i = 0; i < end && story.size() < kMaxStoryRecords; ++i) {
      const Row& row = m.rows[i];
      if (!(row.jti != 0 && jti_keys.count(row.jti)) && !(row.uid != 0 && uid_keys.count(row.uid))) continue;
      if (in_story.count(i)) continue;
      json r = m.ParsedLocked(i);
      if (!jtis.count(ledger::StoryJti(r)) && !uids.count(ledger::StoryUid(r))) continue;  // a hash collision
      add(i);
      if (ledger::StoryFollows(r) && learn(r)) missed_before = i;
    }
    end = missed_before;
  }
  std::sort(story.begin(), story.end());
  // The parent chain: the record each story record names as `parent`, and
  // that record's own parent, up to kMaxParentDepth.
  std::vector<uint64_t> frontier = story;
  std::unordered_set<uint64_t> seen(story.begin(), story.end());
  for (int depth = 0; depth < kMaxParentDepth && !frontier.empty(); ++depth) {
    std::vector<uint64_t> next;
    for (uint64_t i : frontier) {
      if (m.rows[i].parent == 0) continue;
      ledger::Hash h;
      if (!crypto::ParseSha256Ref(StringAt(m.ParsedLocked(i), {"parent"}), &h)) continue;
      auto p = m.FindHashLocked(h);
      if (p && seen.insert(*p).second) {
        parents->push_back(*p);
        next.push_back(*p);
      }
    }
    frontier = std::move(next);
  }
  return story;
}

}  // namespace execgov::console
