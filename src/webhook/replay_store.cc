#include "webhook/replay_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "core/file.h"
#include "core/json_fast.h"
#include "core/log.h"
#include "crypto/json.h"
#include "ledger/backend.h"

namespace execgov::webhook {

using Json = nlohmann::json;

FileReplayStore::Entry::Entry(std::string_view jti, const policy::Consumption& who, int64_t expires_at)
    : expires_at_(expires_at) {
  const std::string_view parts[] = {jti, who.kind, who.ns, who.name, who.uid};
  size_t total = 0;
  for (std::string_view part : parts) total += part.size();
  parts_ = std::make_unique_for_overwrite<char[]>(total);
  size_t at = 0;
  for (size_t i = 0; i < 5; ++i) {
    std::memcpy(parts_.get() + at, parts[i].data(), parts[i].size());
    at += parts[i].size();
    ends_[i] = static_cast<uint32_t>(at);
  }
}

std::string_view FileReplayStore::Entry::Part(size_t i) const {
  size_t start = i == 0 ? 0 : ends_[i - 1];
  return std::string_view(parts_.get() + start, ends_[i] - start);
}

void FileReplayStore::Add(Entries* entries, Entry e) { entries->insert(std::move(e)); }

Status FileReplayStore::ConsumedBy(const std::string& jti, const Entry& first) {
  policy::Consumption who = first.Who();
  return AlreadyExists("artifact " + jti + " was consumed by " + who.kind + " " + who.ns + "/" + who.name);
}

policy::Consumption FileReplayStore::Entry::Who() const {
  return {std::string(Part(1)), std::string(Part(2)), std::string(Part(3)), std::string(Part(4))};
}

void FileReplayStore::Entry::AddInheritor(const std::string& uid) const {
  if (!inheritors_) inheritors_ = std::make_unique<std::unordered_set<std::string>>();
  inheritors_->insert(uid);
}

void FileReplayStore::Adopt(Entries entries) {
  while (!entries.empty()) {
    auto node = entries.extract(entries.begin());
    Shard& shard = ShardOf(node.value().jti());
    std::lock_guard lock(shard.mu);
    shard.entries.insert(std::move(node));
  }
}

StatusOr<std::unique_ptr<FileReplayStore>> FileReplayStore::Open(const std::string& path, int64_t now) {
  Entries entries;
  EXECGOV_ASSIGN_OR_RETURN(auto store, OpenJournal(path, now, &entries));
  store->Adopt(std::move(entries));
  return store;
}

StatusOr<std::unique_ptr<FileReplayStore>> FileReplayStore::OpenJournal(const std::string& path, int64_t now,
                                                                       Entries* loaded) {
  Entries& entries = *loaded;
  auto text = ReadFile(path, size_t(1) << 30);
  if (text.ok()) {
    size_t start = 0, line_no = 0;
    while (start < text->size()) {
      size_t end = text->find('\n', start);
      if (end == std::string::npos) {
        log::Warn("replay store: dropping a torn last line", {{"path", path}});
        break;
      }
      ++line_no;
      Json j = Json::parse(text->begin() + start, text->begin() + end, nullptr, false);
      start = end + 1;
      if (!j.is_object() || !j.contains("jti")) {
        return DataLoss(path + ": line " + std::to_string(line_no) + " is not a replay record");
      }
      std::string jti = j["jti"];
      if (j.value("op", "") == "consume") {
        policy::Consumption who{j.value("kind", ""), j.value("namespace", ""), j.value("name", ""), j.value("uid", "")};
        Add(&entries, Entry(jti, who, j.value("exp", int64_t(0))));
      } else if (j.value("op", "") == "inherit") {
        auto it = entries.find(jti);
        if (it != entries.end()) it->AddInheritor(j.value("uid", ""));
      }
    }
  }
  // Compact: rewrite only what is still unexpired, then append from there.
  std::string compacted;
  for (auto it = entries.begin(); it != entries.end();) {
    if (it->expires_at() < now) {
      it = entries.erase(it);
      continue;
    }
    policy::Consumption w = it->Who();
    std::string jti(it->jti());
    compacted += Json{{"op", "consume"}, {"jti", jti}, {"kind", w.kind}, {"namespace", w.ns}, {"name", w.name},
                      {"uid", w.uid}, {"exp", it->expires_at()}}.dump() + "\n";
    if (const auto* inheritors = it->inheritors()) {
      for (const auto& uid : *inheritors) {
        compacted += Json{{"op", "inherit"}, {"jti", jti}, {"uid", uid}}.dump() + "\n";
      }
    }
    ++it;
  }
  EXECGOV_RETURN_IF_ERROR(WriteFileAtomic(path, compacted, 0600));
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return InvalidArgument("cannot open " + path + ": " + std::strerror(errno));
  return std::unique_ptr<FileReplayStore>(new FileReplayStore(path, fd));
}

StatusOr<std::optional<FileReplayStore::LedgerReplay>> FileReplayStore::ParseLedgerReplay(std::string_view record,
                                                                                          int64_t now) {
  // Records are canonical JSON (RFC 8785: sorted members, no whitespace, and
  // a quote inside a string is escaped), so substring tests on the exact
  // spellings the handler writes skip, unparsed, the records without a replay
  // member and expired consumptions: a long ledger is mostly those, and a
  // full parse costs ~10 us.
  size_t at_replay = record.find("\"replay\":{");
  if (at_replay == std::string_view::npos) return std::optional<LedgerReplay>();
  std::string_view member = record.substr(at_replay + 10);
  if (member.rfind("\"exp\":", 0) == 0) {
    int64_t exp = 0;
    auto [end, ec] = std::from_chars(member.data() + 6, member.data() + member.size(), exp);
    if (ec == std::errc() && exp < now) return std::optional<LedgerReplay>();
  }
  // Records from a store other writers share are read here before anything
  // else has judged them: bound the nesting before a recursive parse.
  EXECGOV_RETURN_IF_ERROR(CheckJsonLimits(record));
  Json r = Json::parse(record.begin(), record.end(), nullptr, false);
  if (!r.is_object()) return std::optional<LedgerReplay>();  // the ledger's own verify reports bad records
  auto replay = r.find("replay");
  auto artifact = r.find("artifact");
  auto object = r.find("object");
  if (replay == r.end() || !replay->is_object() || artifact == r.end() || !artifact->is_object() ||
      object == r.end() || !object->is_object()) {
    return std::optional<LedgerReplay>();
  }
  LedgerReplay out;
  try {
    out.jti = artifact->value("jti", "");
    out.who = {object->value("kind", ""), object->value("namespace", ""), object->value("name", ""),
               object->value("uid", "")};
    std::string op = replay->value("op", "");
    out.consume = op == "consume";
    if (!out.consume && op != "inherit") return std::optional<LedgerReplay>();
    out.exp = out.consume ? replay->value("exp", int64_t(0)) : 0;
  } catch (const Json::exception& e) {
    return DataLoss(std::string("a ledger record's replay member: ") + e.what());
  }
  if (out.jti.empty()) return DataLoss("a ledger record with a replay member names no artifact jti");
  if (out.consume && out.exp < now) return std::optional<LedgerReplay>();
  return std::optional<LedgerReplay>(std::move(out));
}

void FileReplayStore::ApplyLedgerReplay(Entries* entries, const LedgerReplay& r) {
  if (r.consume) {
    Add(entries, Entry(r.jti, r.who, r.exp));  // the first consumption wins; later ones are retries of it
  } else if (auto it = entries->find(r.jti); it != entries->end()) {
    it->AddInheritor(r.who.uid);
  }
}

Status FileReplayStore::LoadLedgerRecord(std::string_view record, int64_t now, Entries* entries) {
  // An inheritance of a jti not (or no longer) consumed changes nothing.
  if (record.find("\"replay\":{\"op\":\"inherit\"}") != std::string_view::npos) {
    size_t at = record.find("\"jti\":\"");
    size_t end = at == std::string_view::npos ? at : record.find('"', at + 7);
    if (end != std::string_view::npos && !entries->count(std::string(record.substr(at + 7, end - at - 7)))) {
      return Status::Ok();
    }
  }
  EXECGOV_ASSIGN_OR_RETURN(auto r, ParseLedgerReplay(record, now));
  if (r) ApplyLedgerReplay(entries, *r);
  return Status::Ok();
}

std::unique_ptr<FileReplayStore> FileReplayStore::ForSharedLedger() {
  auto store = std::unique_ptr<FileReplayStore>(new FileReplayStore("", -1));
  store->in_ledger_ = true;
  return store;
}

void FileReplayStore::Observe(std::string_view record, int64_t now) {
  auto r = ParseLedgerReplay(record, now);
  if (!r.ok()) {
    log::Warn("replay store: skipping a ledger record", {{"error", r.status().message()}});
    return;
  }
  if (!*r) return;
  Shard& shard = ShardOf((*r)->jti);
  std::lock_guard lock(shard.mu);
  ApplyLedgerReplay(&shard.entries, **r);
}

StatusOr<std::optional<FileReplayStore::Reserved>> FileReplayStore::ReserveRecorded(std::string_view entry,
                                                                                    int64_t now) {
  EXECGOV_ASSIGN_OR_RETURN(auto r, ParseLedgerReplay(entry, now));
  if (!r || !r->consume) return std::optional<Reserved>();
  EXECGOV_RETURN_IF_ERROR(Consume(r->jti, r->who, r->exp));
  return std::optional<Reserved>(Reserved{r->jti, r->who.uid});
}

Status FileReplayStore::Recheck(const std::string& jti, const std::string& uid) const {
  const Shard& shard = ShardOf(jti);
  std::lock_guard lock(shard.mu);
  auto it = shard.entries.find(jti);
  if (it == shard.entries.end() || it->uid() == uid) return Status::Ok();
  return ConsumedBy(jti, *it);
}

StatusOr<std::unique_ptr<FileReplayStore>> FileReplayStore::OpenWithLedger(const std::string& journal_path,
                                                                          const std::string& ledger_url, int64_t now) {
  Entries entries;
  EXECGOV_ASSIGN_OR_RETURN(auto store, OpenJournal(journal_path, now, &entries));
  ledger::BackendOptions options;
  options.read_only = true;
  EXECGOV_ASSIGN_OR_RETURN(auto backend, ledger::OpenBackend(ledger_url, options));
  // Folded into what an older version's journal holds, so an inheritance
  // recorded in the ledger finds a consumption recorded in the journal.
  Status st = backend->Scan(0, UINT64_MAX, [&](uint64_t, std::string_view record) {
    return LoadLedgerRecord(record, now, &entries);
  });
  (void)backend->Close();
  if (!st.ok()) return st.WithContext("reading consumed artifacts from the ledger " + ledger_url);
  for (auto it = entries.begin(); it != entries.end();) {
    it = it->expires_at() < now ? entries.erase(it) : std::next(it);
  }
  store->Adopt(std::move(entries));
  store->in_ledger_ = true;
  return store;
}

FileReplayStore::~FileReplayStore() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<policy::Consumption> FileReplayStore::Find(const std::string& jti,
                                                         const std::string& inheritor_uid) const {
  auto found = Lookup(jti, inheritor_uid);
  bool inheritance_unknown = !inheritor_uid.empty() && (!found || (!found->inherited && found->uid != inheritor_uid));
  if (catch_up_ && (inheritance_unknown || (!found && catch_up_on_every_miss_))) {
    if (Status st = catch_up_(); !st.ok()) {
      log::Warn("replay store: cannot catch up with the ledger", {{"error", st.message()}});
    }
    found = Lookup(jti, inheritor_uid);
  }
  return found;
}

std::optional<policy::Consumption> FileReplayStore::Lookup(const std::string& jti,
                                                           const std::string& inheritor_uid) const {
  const Shard& shard = ShardOf(jti);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(jti);
  if (it == shard.entries.end()) return std::nullopt;
  policy::Consumption c = it->Who();
  c.inherited = !inheritor_uid.empty() && it->Inherited(inheritor_uid);
  return c;
}

Status FileReplayStore::WriteAndSync(const std::string& lines) {
  size_t off = 0;
  while (off < lines.size()) {
    ssize_t n = ::write(fd_, lines.data() + off, lines.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Unavailable("cannot write the replay journal " + path_ + ": " + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) return Unavailable("cannot sync the replay journal " + path_ + ": " + std::strerror(errno));
  return Status::Ok();
}

Status FileReplayStore::Journal(const std::string& line) {
  std::unique_lock<std::mutex> lock(journal_mu_);
  if (!open_) open_ = std::make_shared<Batch>();
  std::shared_ptr<Batch> mine = open_;
  mine->lines += line;
  while (!mine->done) {
    if (syncing_) {
      mine->cv.wait(lock);
      continue;
    }
    // Nobody is syncing, so our batch is still the open one: take it (with
    // every line queued behind ours so far) and sync it outside the lock.
    std::shared_ptr<Batch> batch = std::move(open_);
    open_.reset();
    syncing_ = true;
    lock.unlock();
    Status st = WriteAndSync(batch->lines);
    lock.lock();
    batch->status = st;
    batch->done = true;
    syncing_ = false;
    batch->cv.notify_all();
    // Lines that arrived meanwhile: one of their callers takes the next sync.
    if (open_) open_->cv.notify_one();
  }
  return mine->status;
}

Status FileReplayStore::Consume(const std::string& jti, const policy::Consumption& who, int64_t expires_at) {
  Shard& shard = ShardOf(jti);
  std::unique_lock<std::mutex> lock(shard.mu);
  // Another request is writing this jti's consumption: wait for its outcome.
  while (shard.in_flight.count(jti)) {
    ++shard.in_flight_waiters;
    shard.in_flight_cv.wait(lock);
    --shard.in_flight_waiters;
  }
  auto it = shard.entries.find(jti);
  if (it != shard.entries.end()) {
    if (it->uid() == who.uid) return Status::Ok();  // the same object, retried
    return ConsumedBy(jti, *it);
  }
  // Durable before visible: a crash after this write still counts the jti.
  Add(&shard.in_flight, Entry(jti, who, expires_at));
  if (in_ledger_) return Status::Ok();  // durable with the decision's record; Settle follows
  lock.unlock();  // the jti is in flight: other Consumes of it wait
  Status st = Journal(Json{{"op", "consume"}, {"jti", jti}, {"kind", who.kind}, {"namespace", who.ns},
                           {"name", who.name}, {"uid", who.uid}, {"exp", expires_at}}.dump() + "\n");
  lock.lock();
  if (auto mine = shard.in_flight.find(jti); mine != shard.in_flight.end()) shard.in_flight.erase(mine);
  if (st.ok()) Add(&shard.entries, Entry(jti, who, expires_at));
  if (shard.in_flight_waiters > 0) shard.in_flight_cv.notify_all();
  return st;
}

Status FileReplayStore::Inherit(const std::string& jti, const std::string& uid) {
  Shard& shard = ShardOf(jti);
  std::unique_lock<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(jti);
  if (it == shard.entries.end()) return NotFound("artifact " + jti + " was never consumed");
  if (it->Inherited(uid)) return Status::Ok();
  if (in_ledger_) return Status::Ok();  // visible once Settle says its record is durable
  lock.unlock();
  EXECGOV_RETURN_IF_ERROR(Journal(Json{{"op", "inherit"}, {"jti", jti}, {"uid", uid}}.dump() + "\n"));
  lock.lock();
  // Looked up again: the set may have changed while the lock was released.
  // Gone means pruned: expired, so nothing can inherit it any more.
  if (auto again = shard.entries.find(jti); again != shard.entries.end()) again->AddInheritor(uid);
  return Status::Ok();
}

void FileReplayStore::Settle(const std::string& jti, const std::string& uid, policy::ReplayAction action,
                             bool durable) {
  Shard& shard = ShardOf(jti);
  std::lock_guard<std::mutex> lock(shard.mu);
  if (action == policy::ReplayAction::kConsume) {
    auto it = shard.in_flight.find(jti);
    // Not reserved by this object: its Consume found its own earlier
    // consumption (a retry) and reserved nothing.
    if (it == shard.in_flight.end() || it->uid() != uid) return;
    Entry e = std::move(shard.in_flight.extract(it).value());
    if (durable) Add(&shard.entries, std::move(e));
    if (shard.in_flight_waiters > 0) shard.in_flight_cv.notify_all();
  } else if (action == policy::ReplayAction::kInherit && durable) {
    auto it = shard.entries.find(jti);
    if (it == shard.entries.end()) return;  // pruned meanwhile: expired, so nothing can inherit it any more
    it->AddInheritor(uid);
  }
}

void FileReplayStore::PruneShard(Shard& shard, int64_t now) {
  std::lock_guard<std::mutex> lock(shard.mu);
  for (auto it = shard.entries.begin(); it != shard.entries.end();) {
    if (it->expires_at() < now && !shard.in_flight.count(it->jti())) it = shard.entries.erase(it);
    else ++it;
  }
}

void FileReplayStore::Prune(int64_t now) {
  // A shard at a time: admissions wait at most for one shard's walk.
  for (Shard& shard : shards_) PruneShard(shard, now);
}

void FileReplayStore::PruneStep(int64_t now) {
  PruneShard(shards_[next_prune_shard_.fetch_add(1, std::memory_order_relaxed) % kShards], now);
}

size_t FileReplayStore::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    n += shard.entries.size();
  }
  return n;
}

}  // namespace execgov::webhook
