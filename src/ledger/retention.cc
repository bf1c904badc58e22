#include "ledger/retention.h"

#include <algorithm>

#include "core/clock.h"
#include "core/log.h"
#include "crypto/encoding.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/record.h"

namespace execgov::ledger {
namespace {

using nlohmann::json;

std::string SeqRange(uint64_t from, uint64_t to) {
  return to == from + 1 ? std::to_string(from) : std::to_string(from) + ".." + std::to_string(to - 1);
}

// Whether the record carries a consumption the webhook still needs
// ("replay":{"exp":E,"op":"consume"} with E >= now; webhook/replay_store.cc
// ParseLedgerReplay drops exactly those with E < now). A replay member that
// cannot be read counts as needed: moving it would be the unsafe guess.
bool HoldsLiveConsumption(std::string_view record, int64_t now) {
  if (record.find("\"replay\":{") == std::string_view::npos) return false;
  auto j = json::parse(record.begin(), record.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return true;
  auto replay = j.find("replay");
  if (replay == j.end() || !replay->is_object()) return false;
  auto exp = replay->find("exp");
  if (exp == replay->end()) return replay->value("op", "") == "consume";
  return !exp->is_number_integer() || exp->get<int64_t>() >= now;
}

// The retention record of a cut (docs/auditors.md#retention).
json RetentionEntry(const RetentionBase& b) {
  auto cp = ParseCheckpoint(b.checkpoint);
  std::string root = cp.ok() ? crypto::Base64Encode(crypto::HashBytes(cp->root)) : "";
  return {{"type", "retention"},
          {"moved",
           {{"from", b.moved_from_seq},
            {"to", b.first_seq},
            {"archive", b.archive},
            {"lastHash", crypto::HashToSha256Ref(b.state.last)},
            {"root", root},
            {"segments", {{"from", b.moved_from_segment}, {"to", b.first_segment}}}}}};
}

bool IsRetentionRecordFor(std::string_view record, uint64_t first_seq) {
  if (record.find("\"type\":\"retention\"") == std::string_view::npos) return false;
  auto j = json::parse(record.begin(), record.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("type", "") != "retention") return false;
  auto moved = j.find("moved");
  return moved != j.end() && moved->is_object() && moved->value("to", uint64_t{0}) == first_seq &&
         moved->contains("to");
}

// The first segment index at or after `from` that does not exist: they are
// made in order and deleted oldest first, so existence is a prefix. Galloping
// then bisecting costs O(log n) reads.
StatusOr<uint64_t> SegmentEnd(SegmentStore& store, uint64_t from) {
  auto exists = [&](uint64_t i) -> StatusOr<bool> {
    EXECGOV_ASSIGN_OR_RETURN(auto s, store.ReadSegment(i));
    return s.has_value();
  };
  EXECGOV_ASSIGN_OR_RETURN(bool any, exists(from));
  if (!any) return from;
  uint64_t lo = from, hi = 0;  // lo exists, hi does not
  for (uint64_t step = 1;; step *= 2) {
    EXECGOV_ASSIGN_OR_RETURN(bool e, exists(from + step));
    if (!e) {
      hi = from + step;
      break;
    }
    lo = from + step;
  }
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    EXECGOV_ASSIGN_OR_RETURN(bool e, exists(mid));
    (e ? lo : hi) = mid;
  }
  return hi;
}

// Step 1: the archive holds records 0..n-1 once this returns. `moving` holds
// records n0..n-1 (n0 = what earlier cuts moved); the archive may already
// hold some of them (a rerun), which must then be these very records.
StatusOr<uint64_t> CopyToArchive(Backend& archive, const std::optional<RetentionBase>& base,
                                 const std::vector<std::string>& moving, uint64_t n0, const RetentionOptions& o) {
  uint64_t n = n0 + moving.size();
  EXECGOV_ASSIGN_OR_RETURN(ChainState tail, archive.Tail());
  if (tail.size < n0) {
    return FailedPrecondition("the archive " + o.archive_url + " holds " + std::to_string(tail.size) +
                              " records, but records " + SeqRange(0, n0) + " were moved to " +
                              (base ? base->archive : std::string("?")) + " before: use that archive");
  }
  // The archive must be this ledger's: its record at min(size, n)-1 is ours.
  uint64_t check = std::min(tail.size, n);
  if (check > 0) {
    Hash want = check == n0 ? base->state.last : LeafHash(moving[check - 1 - n0]);
    Hash have = tail.last;
    if (check < tail.size) {
      EXECGOV_RETURN_IF_ERROR(archive.Scan(check - 1, check, [&](uint64_t, std::string_view bytes) {
        have = LeafHash(bytes);
        return Status::Ok();
      }));
    }
    if (have != want) {
      return FailedPrecondition("the archive " + o.archive_url + "'s record " + std::to_string(check - 1) +
                                " is not this ledger's: it is the archive of another ledger");
    }
  }
  uint64_t appended = 0;
  ChainState cur = tail;
  size_t per_batch = std::max<size_t>(1, archive.MaxBatch());
  for (uint64_t seq = tail.size; seq < n;) {
    uint64_t end = std::min<uint64_t>(n, seq + per_batch);
    ChainState after;
    Status st = archive.Append([&](const ChainState& t) -> StatusOr<Batch> {
      if (t.size != cur.size || t.last != cur.last) {
        return Aborted("the archive " + o.archive_url + " was written to while records were moved into it");
      }
      Batch b;
      b.after = t;
      for (uint64_t s = seq; s < end; ++s) EXECGOV_RETURN_IF_ERROR(b.Add(moving[s - n0]));
      after = b.after;
      return b;
    });
    if (!st.ok()) return st.WithContext("appending records " + SeqRange(seq, end) + " to the archive");
    cur = after;
    appended += end - seq;
    seq = end;
  }
  return appended;
}

// Steps 3 and 4 of the cut `base` (its base already stored): the retention
// record, then deleting the moved segments. `recorded_unknown`: a crash may
// have left the record appended but not noted in the base.
Status FinishCut(SegmentStore& store, Ledger& ledger, RetentionBase& base, bool recorded_unknown,
                 bool* did_something) {
  if (!base.record_seq) {
    std::optional<uint64_t> found;
    if (recorded_unknown) {
      Status st = store.ScanKept(base.first_seq, [&](uint64_t seq, std::string_view bytes) -> Status {
        if (!IsRetentionRecordFor(bytes, base.first_seq)) return Status::Ok();
        found = seq;
        return Aborted("found");
      });
      if (!st.ok() && !found) return st.WithContext("looking for the retention record of seq " +
                                                    std::to_string(base.first_seq));
    }
    if (!found) {
      EXECGOV_ASSIGN_OR_RETURN(Appended a, ledger.Append(RetentionEntry(base)));
      found = a.seq;
    }
    base.record_seq = found;
    EXECGOV_ASSIGN_OR_RETURN(base.resource_version, store.WriteBase(base));
    *did_something = true;
  }
  if (base.first_segment > base.moved_from_segment) {
    // Deleted oldest first, so the last one's absence means all are gone.
    EXECGOV_ASSIGN_OR_RETURN(auto last, store.ReadSegment(base.first_segment - 1));
    if (last) {
      for (uint64_t i = base.moved_from_segment; i < base.first_segment; ++i) {
        EXECGOV_RETURN_IF_ERROR(store.DeleteSegment(i));
      }
      *did_something = true;
    }
  }
  return Status::Ok();
}

// Records 0..N-1 from the archive, N.. from the cluster (JoinArchive).
class JoinedBackend final : public Backend {
 public:
  JoinedBackend(std::unique_ptr<Backend> archive, std::unique_ptr<Backend> kept, RetentionBase base,
                std::optional<crypto::PublicKey> key)
      : archive_(std::move(archive)), kept_(std::move(kept)), base_(std::move(base)), key_(std::move(key)) {}

  StatusOr<ChainState> Tail() override { return kept_->Tail(); }
  Status Append(const BuildFn&) override { return FailedPrecondition("an archive joined to a ledger is read-only"); }

  Status Scan(uint64_t from, uint64_t to, const RecordFn& fn) override {
    const uint64_t n = base_.first_seq;
    Status seam;  // a mismatch at the seam, reported once the caller has seen what follows it
    if (from < n) {
      bool whole = from == 0;  // the seam is checked on a scan from the start
      MerkleFrontier tree;
      Hash last = kGenesisPrev;
      uint64_t next = from;
      Status st = archive_->Scan(from, std::min(to, n), [&](uint64_t seq, std::string_view bytes) -> Status {
        if (whole) {
          last = LeafHash(bytes);
          tree.Append(last);
        }
        next = seq + 1;
        return fn(seq, bytes);
      });
      if (!st.ok()) return st;
      if (next < std::min(to, n)) {
        return DataLoss("the archive ends before seq " + std::to_string(next) + ", but the base says records " +
                        SeqRange(0, n) + " were moved to it (" + base_.archive + ")");
      }
      if (whole && to >= n) seam = CheckSeam(tree, last);
    }
    if (to > n) {
      Status st = kept_->Scan(std::max(from, n), to, fn);
      if (!st.ok()) return st;
    }
    return seam;
  }

  StatusOr<bool> Contains(const Hash& h) override {
    EXECGOV_ASSIGN_OR_RETURN(bool in_kept, kept_->Contains(h));
    return in_kept ? true : archive_->Contains(h);
  }
  size_t MaxBatch() const override { return kept_->MaxBatch(); }
  std::string DefaultOrigin() const override { return kept_->DefaultOrigin(); }
  Status Close() override {
    Status a = archive_->Close(), k = kept_->Close();
    return a.ok() ? k : a;
  }

 private:
  // The archive's records 0..N-1 against the base: its chain state there and
  // its signed checkpoint for size N.
  Status CheckSeam(const MerkleFrontier& tree, const Hash& last) const {
    const uint64_t n = base_.first_seq;
    auto cp = key_ ? OpenCheckpoint(base_.checkpoint, *key_) : ParseCheckpoint(base_.checkpoint);
    if (!cp.ok()) return PermissionDenied("the retention base's checkpoint: " + cp.status().message());
    if (cp->size != n) {
      return PermissionDenied("the retention base's checkpoint is for size " + std::to_string(cp->size) +
                              ", but the base starts the cluster's part at seq " + std::to_string(n));
    }
    if (tree.size() != n || last != base_.state.last || tree.Root() != cp->root || base_.state.tree.Root() != cp->root) {
      return PermissionDenied("the archive's records " + SeqRange(0, n) +
                              " are not the ones the retention base signed (last hash or Merkle root differ)");
    }
    return Status::Ok();
  }

  std::unique_ptr<Backend> archive_, kept_;
  RetentionBase base_;
  std::optional<crypto::PublicKey> key_;
};

}  // namespace

json RetentionBase::ToJson() const {
  json j = {{"version", 1},
            {"firstSeq", first_seq},
            {"firstSegment", first_segment},
            {"movedFromSegment", moved_from_segment},
            {"movedFromSeq", moved_from_seq},
            {"state", state.ToJson()},
            {"archive", archive},
            {"time", time},
            {"checkpoint", checkpoint}};
  if (record_seq) j["recordSeq"] = *record_seq;
  return j;
}

StatusOr<RetentionBase> RetentionBase::FromJson(const json& j) {
  RetentionBase b;
  try {
    if (j.at("version").get<int>() != 1) return DataLoss("retention base: unknown version");
    b.first_seq = j.at("firstSeq").get<uint64_t>();
    b.first_segment = j.at("firstSegment").get<uint64_t>();
    b.moved_from_segment = j.at("movedFromSegment").get<uint64_t>();
    b.moved_from_seq = j.at("movedFromSeq").get<uint64_t>();
    EXECGOV_ASSIGN_OR_RETURN(b.state, ChainState::FromJson(j.at("state")));
    b.archive = j.at("archive").get<std::string>();
    b.time = j.at("time").get<std::string>();
    b.checkpoint = j.at("checkpoint").get<std::string>();
    if (j.contains("recordSeq")) b.record_seq = j.at("recordSeq").get<uint64_t>();
  } catch (const json::exception& e) {
    return DataLoss(std::string("retention base: ") + e.what());
  }
  if (b.state.size != b.first_seq) return DataLoss("retention base: its state is not at firstSeq");
  if (b.moved_from_segment > b.first_segment || b.moved_from_seq > b.first_seq) {
    return DataLoss("retention base: the moved range ends before it begins");
  }
  return b;
}

std::string MovedMessage(const RetentionBase& base) {
  return "records " + SeqRange(0, base.first_seq) + " were moved to " + base.archive + " at " + base.time +
         "; pass --archive " + base.archive + " to read them";
}

SegmentStore* AsSegmentStore(Backend& backend) { return dynamic_cast<SegmentStore*>(&backend); }

StatusOr<std::optional<RetentionBase>> ReadRetentionBase(Backend& backend) {
  auto* store = AsSegmentStore(backend);
  if (!store) return std::optional<RetentionBase>();
  return store->ReadBase();
}

StatusOr<RetentionResult> MoveOldSegments(SegmentStore& store, Backend& archive, Ledger& ledger,
                                          const crypto::PrivateKey& key, const RetentionOptions& o) {
  if (o.keep_segments < 1) return InvalidArgument("retention: keep at least one segment");
  if (o.archive_url.empty()) return InvalidArgument("retention: no archive URL");
  if (o.max_segments < 1) return InvalidArgument("retention: max_segments must be at least 1");
  const std::string origin = o.origin.empty() ? store.StoreOrigin() : o.origin;
  RetentionResult result;
  EXECGOV_ASSIGN_OR_RETURN(auto base, store.ReadBase());
  if (base) {
    // A crash may have stopped the last cut after its base: finish it first.
    bool did = false;
    EXECGOV_RETURN_IF_ERROR(FinishCut(store, ledger, *base, /*recorded_unknown=*/true, &did));
    result.completed_earlier = did;
  }
  const uint64_t first_segment = base ? base->first_segment : 0;
  const uint64_t n0 = base ? base->first_seq : 0;
  ChainState state = base ? base->state : ChainState{};
  result.first_seq = n0;
  result.first_segment = first_segment;

  EXECGOV_ASSIGN_OR_RETURN(uint64_t end, SegmentEnd(store, first_segment));
  if (end < first_segment + o.keep_segments + 1) return result;
  const uint64_t limit = std::min(end - o.keep_segments, first_segment + o.max_segments);
  const int64_t now_unix = std::chrono::duration_cast<std::chrono::seconds>(o.now.time_since_epoch()).count();
  std::vector<std::string> moving;
  uint64_t index = first_segment;
  for (; index < limit; ++index) {
    EXECGOV_ASSIGN_OR_RETURN(auto seg, store.ReadSegment(index));
    if (!seg) return Aborted("segment " + std::to_string(index) + " vanished: another retention run; run again");
    if (!seg->sealed) {
      result.held_by = "segment " + std::to_string(index) + " is not sealed";
      break;
    }
    if (o.now - seg->created < o.min_age) {
      result.held_by = "segment " + std::to_string(index) + " is younger than the minimum age";
      break;
    }
    if (seg->first != state.size) {
      return DataLoss("segment " + std::to_string(index) + " begins at seq " + std::to_string(seg->first) +
                      ", but the ledger before it ends at " + std::to_string(state.size));
    }
    ChainState next = state;
    bool live = false;
    for (const auto& r : seg->records) {
      // The chain is checked before anything leaves the cluster.
      EXECGOV_RETURN_IF_ERROR(next.Apply(r).status());
      live = live || HoldsLiveConsumption(r, now_unix);
    }
    if (live) {
      result.held_by = "segment " + std::to_string(index) + " holds a consumption that has not expired";
      break;
    }
    state = next;
    for (auto& r : seg->records) moving.push_back(std::move(r));
  }
  if (index == first_segment) return result;

  // 1. The archive.
  EXECGOV_ASSIGN_OR_RETURN(result.moved_records, CopyToArchive(archive, base, moving, n0, o));
  // 2. The base, with a checkpoint for size N signed by the ledger key.
  RetentionBase next;
  next.first_seq = state.size;
  next.first_segment = index;
  next.moved_from_segment = first_segment;
  next.moved_from_seq = n0;
  next.state = state;
  next.archive = o.archive_url;
  next.time = FormatRfc3339(o.now);
  EXECGOV_ASSIGN_OR_RETURN(next.checkpoint, SignCheckpoint({origin, state.size, state.tree.Root()}, key));
  next.resource_version = base ? base->resource_version : "";
  EXECGOV_ASSIGN_OR_RETURN(next.resource_version, store.WriteBase(next));
  // 3 and 4. The record (none can exist for this cut yet: its base is new).
  bool did = false;
  EXECGOV_RETURN_IF_ERROR(FinishCut(store, ledger, next, /*recorded_unknown=*/false, &did));
  result.moved_segments = index - first_segment;
  result.first_seq = next.first_seq;
  result.first_segment = next.first_segment;
  log::Info("ledger retention: moved segments to the archive",
            {{"origin", origin},
             {"segments", SeqRange(first_segment, index)},
             {"records", SeqRange(n0, state.size)},
             {"archive", o.archive_url},
             {"appendedToArchive", result.moved_records},
             {"recordSeq", next.record_seq ? static_cast<int64_t>(*next.record_seq) : -1}});
  return result;
}

StatusOr<RetentionResult> RunRetention(const std::string& ledger_url, Ledger& ledger, const crypto::PrivateKey& key,
                                       const RetentionOptions& options) {
  if (ledger_url.rfind("configmap://", 0) != 0) {
    return InvalidArgument("retention moves segments of a configmap:// ledger, not " + ledger_url);
  }
  EXECGOV_ASSIGN_OR_RETURN(auto kept, OpenBackend(ledger_url, BackendOptions{.read_only = true}));
  SegmentStore* store = AsSegmentStore(*kept);
  if (!store) return Internal("a configmap:// backend without segments");
  EXECGOV_ASSIGN_OR_RETURN(auto archive, OpenBackend(options.archive_url, BackendOptions{}));
  RetentionResult total;
  Status st;
  for (;;) {
    auto r = MoveOldSegments(*store, *archive, ledger, key, options);
    if (!r.ok()) {
      st = r.status();
      break;
    }
    total.moved_segments += r->moved_segments;
    total.moved_records += r->moved_records;
    total.completed_earlier = total.completed_earlier || r->completed_earlier;
    total.first_seq = r->first_seq;
    total.first_segment = r->first_segment;
    total.held_by = r->held_by;
    if (r->moved_segments < options.max_segments) break;  // not cut short by the per-run bound
  }
  Status closed = archive->Close();
  (void)kept->Close();
  if (!st.ok()) return st;
  if (!closed.ok()) return closed.WithContext("closing the archive " + options.archive_url);
  return total;
}

StatusOr<std::unique_ptr<Backend>> JoinArchive(std::unique_ptr<Backend> archive, std::unique_ptr<Backend> kept,
                                               std::optional<crypto::PublicKey> key) {
  EXECGOV_ASSIGN_OR_RETURN(auto base, ReadRetentionBase(*kept));
  if (!base) {
    (void)archive->Close();
    return kept;
  }
  return std::unique_ptr<Backend>(new JoinedBackend(std::move(archive), std::move(kept), std::move(*base), std::move(key)));
}

}  // namespace execgov::ledger
