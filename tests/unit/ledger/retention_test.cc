// MoveOldSegments' order and idempotence without an API server: a store of
// segments in memory that can fail any step, a real file: archive, and a
// ledger that chains the retention record after the segments.
#include "ledger/retention.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "core/clock.h"
#include "crypto/encoding.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/record.h"
#include "ledger/verifier.h"
#include "tamper_cases.h"

namespace execgov::ledger {
namespace {

using nlohmann::json;

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
const int64_t kNowUnix = 1'800'000'000;

// Appends to a chain kept by the test (the fake store's kept tail).
class FakeLedger final : public Ledger {
 public:
  FakeLedger(ChainState* tail, std::vector<std::string>* records, std::vector<std::string>* ops)
      : tail_(tail), records_(records), ops_(ops) {}
  StatusOr<Appended> Append(const json& entry) override {
    EXECGOV_ASSIGN_OR_RETURN(std::string canonical, CanonicalEntry(entry));
    EXECGOV_ASSIGN_OR_RETURN(std::string bytes, SpliceRecord(canonical, tail_->size, tail_->last, kNow));
    uint64_t seq = tail_->size;
    EXECGOV_ASSIGN_OR_RETURN(Hash h, tail_->Apply(bytes));
    records_->push_back(bytes);
    ops_->push_back("record");
    return Appended{seq, crypto::HashToSha256Ref(h)};
  }
  StatusOr<bool> Contains(const std::string&) override { return false; }
  StatusOr<uint64_t> Size() override { return tail_->size; }
  Status Checkpoint() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }

 private:
  ChainState* tail_;
  std::vector<std::string>* records_;
  std::vector<std::string>* ops_;
};

class FakeStore final : public SegmentStore {
 public:
  StatusOr<std::optional<RetentionBase>> ReadBase() override { return base; }
  StatusOr<std::string> WriteBase(const RetentionBase& b) override {
    if (fail_write_base-- == 0) return Unavailable("injected: base not written");
    std::string have = base ? base->resource_version : "";
    if (b.resource_version != have) return Aborted("conflict");
    base = b;
    base->resource_version = std::to_string(++version);
    ops.push_back(b.record_seq ? "base+record" : "base");
    if (on_base) on_base();
    return base->resource_version;
  }
  StatusOr<std::optional<Segment>> ReadSegment(uint64_t index) override {
    auto it = segments.find(index);
    if (it == segments.end()) return std::optional<Segment>();
    return std::optional<Segment>(it->second);
  }
  Status DeleteSegment(uint64_t index) override {
    if (fail_delete-- == 0) return Unavailable("injected: not deleted");
    segments.erase(index);
    ops.push_back("delete " + std::to_string(index));
    return Status::Ok();
  }
  Status ScanKept(uint64_t from, const Backend::RecordFn& fn) override {
    for (const auto& [index, seg] : segments) {
      for (size_t k = 0; k < seg.records.size(); ++k) {
        if (seg.first + k >= from) EXECGOV_RETURN_IF_ERROR(fn(seg.first + k, seg.records[k]));
      }
    }
    for (size_t k = 0; k < tail_records.size(); ++k) {
      uint64_t seq = tail.size - tail_records.size() + k;
      if (seq >= from) EXECGOV_RETURN_IF_ERROR(fn(seq, tail_records[k]));
    }
    return Status::Ok();
  }
  std::string StoreOrigin() const override { return "audit"; }

  std::map<uint64_t, Segment> segments;
  std::optional<RetentionBase> base;
  int version = 0;
  ChainState tail;                        // the chain after every record
  std::vector<std::string> tail_records;  // appended after the segments (retention records)
  std::vector<std::string> all;           // every record ever made, by seq
  std::vector<std::string> ops;
  int fail_write_base = -1, fail_delete = -1;  // the n-th call fails (0: the next)
  std::function<void()> on_base;
};

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/execgov-retention-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    archive_url_ = "file:" + dir_ + "/archive.jsonl";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // `segments` sealed segments of `per` records each; record (s, k) gets
  // `extra` when the callback gives one.
  void Build(int segments, int per, std::function<json(int)> extra = nullptr) {
    int i = 0;
    for (int s = 0; s < segments; ++s) {
      SegmentStore::Segment seg;
      seg.first = store_.tail.size;
      seg.sealed = true;
      seg.created = kNow - std::chrono::hours(1);
      for (int k = 0; k < per; ++k, ++i) {
        json e = testing::Entry(i);
        if (extra) {
          json x = extra(i);
          if (!x.is_null()) e["replay"] = x;
        }
        std::string bytes = *BuildRecord(e, store_.tail.size, store_.tail.last, kNow);
        ASSERT_TRUE(store_.tail.Apply(bytes).ok());
        seg.records.push_back(bytes);
        store_.all.push_back(bytes);
      }
      store_.segments[s] = seg;
    }
  }

  RetentionOptions Options(uint64_t keep) const {
    RetentionOptions o;
    o.keep_segments = keep;
    o.archive_url = archive_url_;
    o.now = kNow;
    o.min_age = std::chrono::seconds(0);
    return o;
  }

  StatusOr<RetentionResult> Move(uint64_t keep) {
    auto archive = OpenBackend(archive_url_, BackendOptions{});
    if (!archive.ok()) return archive.status();
    FakeLedger ledger(&store_.tail, &store_.tail_records, &store_.ops);
    auto r = MoveOldSegments(store_, **archive, ledger, key_, Options(keep));
    // Records the fake ledger made are part of the history too.
    while (store_.all.size() < store_.tail.size) {
      store_.all.push_back(store_.tail_records[store_.all.size() - (store_.tail.size - store_.tail_records.size())]);
    }
    (void)(*archive)->Close();
    return r;
  }

  // Appends `n` records to the archive, record i made by `make` on the
  // archive's chain state so far.
  void PutInArchive(int n, const std::function<std::string(int, const ChainState&)>& make) {
    auto archive = OpenBackend(archive_url_, BackendOptions{});
    ASSERT_TRUE(archive.ok());
    ASSERT_TRUE((*archive)->Append([&](const ChainState& t) -> StatusOr<Batch> {
      Batch b;
      b.after = t;
      for (int i = 0; i < n; ++i) EXECGOV_RETURN_IF_ERROR(b.Add(make(i, b.after)));
      return b;
    }).ok());
  }

  std::vector<std::string> ArchiveRecords() {
    auto archive = OpenBackend(archive_url_, BackendOptions{.read_only = true});
    EXPECT_TRUE(archive.ok());
    std::vector<std::string> out;
    EXPECT_TRUE((*archive)->Scan(0, UINT64_MAX, [&](uint64_t, std::string_view b) {
      out.emplace_back(b);
      return Status::Ok();
    }).ok());
    return out;
  }

  int RetentionRecords() const {
    int n = 0;
    for (const auto& r : store_.tail_records) n += r.find("\"type\":\"retention\"") != std::string::npos;
    return n;
  }

  // The state a clean move of segments 0..6 of 10 (5 records each) leaves.
  void ExpectMovedSevenOfTen() {
    auto archived = ArchiveRecords();
    ASSERT_EQ(archived.size(), 35u);
    for (size_t i = 0; i < archived.size(); ++i) EXPECT_EQ(archived[i], store_.all[i]) << "seq " << i;
    auto archive = OpenBackend(archive_url_, BackendOptions{.read_only = true});
    auto v = VerifyLedger(**archive, VerifyOptions{});
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(v->ok()) << v->message;
    ASSERT_TRUE(store_.base.has_value());
    EXPECT_EQ(store_.base->first_seq, 35u);
    EXPECT_EQ(store_.base->first_segment, 7u);
    EXPECT_EQ(store_.base->moved_from_segment, 0u);
    ASSERT_TRUE(store_.base->record_seq.has_value());
    EXPECT_EQ(*store_.base->record_seq, 50u);  // right after the 50 records of the segments
    for (uint64_t i = 0; i < 7; ++i) EXPECT_EQ(store_.segments.count(i), 0u) << i;
    for (uint64_t i = 7; i < 10; ++i) EXPECT_EQ(store_.segments.count(i), 1u) << i;
    EXPECT_EQ(RetentionRecords(), 1);
    // The base's checkpoint is the ledger key's, for the first 35 records.
    auto cp = OpenCheckpoint(store_.base->checkpoint, key_.Public());
    ASSERT_TRUE(cp.ok()) << cp.status().ToString();
    EXPECT_EQ(cp->size, 35u);
    std::vector<Hash> leaves;
    for (int i = 0; i < 35; ++i) leaves.push_back(LeafHash(store_.all[i]));
    EXPECT_EQ(cp->root, RootOf(leaves));
    EXPECT_EQ(store_.base->state.last, leaves.back());
  }

  std::string dir_, archive_url_;
  FakeStore store_;
  crypto::PrivateKey key_ = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
};

TEST_F(RetentionTest, MovesInOrderArchiveThenBaseThenRecordThenDeletes) {
  Build(10, 5);
  uint64_t archived_at_base = 0;
  store_.on_base = [&] {
    if (archived_at_base == 0) archived_at_base = ArchiveRecords().size();
  };
  auto r = Move(3);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->moved_segments, 7u);
  EXPECT_EQ(r->moved_records, 35u);
  EXPECT_EQ(r->first_seq, 35u);
  EXPECT_EQ(archived_at_base, 35u) << "the base was written before the archive held the records";
  std::vector<std::string> want = {"base", "record", "base+record"};
  for (int i = 0; i < 7; ++i) want.push_back("delete " + std::to_string(i));
  EXPECT_EQ(store_.ops, want);
  ExpectMovedSevenOfTen();
  // The retention record says what moved and where.
  auto rec = json::parse(store_.tail_records.back());
  EXPECT_EQ(rec["type"], "retention");
  EXPECT_EQ(rec["moved"]["from"], 0);
  EXPECT_EQ(rec["moved"]["to"], 35);
  EXPECT_EQ(rec["moved"]["archive"], archive_url_);
  EXPECT_EQ(rec["moved"]["lastHash"], crypto::HashToSha256Ref(LeafHash(store_.all[34])));
  EXPECT_EQ(rec["moved"]["segments"]["to"], 7);
  // Nothing more to move: a second run changes nothing.
  store_.ops.clear();
  auto again = Move(3);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->moved_segments, 0u);
  EXPECT_TRUE(store_.ops.empty());
}

struct Crash {
  const char* name;
  int fail_write_base;  // which WriteBase call fails (-1: none)
  int fail_delete;      // which DeleteSegment call fails
};

class RetentionCrashTest : public RetentionTest, public ::testing::WithParamInterface<Crash> {};

TEST_P(RetentionCrashTest, ARerunCompletesTheMoveWithNothingLostOrDoubled) {
  Build(10, 5);
  store_.fail_write_base = GetParam().fail_write_base;
  store_.fail_delete = GetParam().fail_delete;
  auto first = Move(3);
  EXPECT_FALSE(first.ok()) << "the injected failure did not happen";
  store_.fail_write_base = store_.fail_delete = -1;
  auto rerun = Move(3);
  ASSERT_TRUE(rerun.ok()) << rerun.status().ToString();
  ExpectMovedSevenOfTen();
}

INSTANTIATE_TEST_SUITE_P(
    Steps, RetentionCrashTest,
    ::testing::Values(Crash{"AfterTheArchive", 0, -1},          // archive full, no base
                      Crash{"AfterTheRecord", 1, -1},           // record appended, the base not told
                      Crash{"AfterTheFirstDelete", -1, 1},      // segment 0 deleted, 1..6 not
                      Crash{"BeforeTheLastDelete", -1, 6}),     // only segment 6 left
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(RetentionTest, AnArchiveThatHoldsSomeRecordsIsContinuedAfterThem) {
  Build(10, 5);
  PutInArchive(12, [&](int i, const ChainState&) { return store_.all[i]; });
  auto r = Move(3);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->moved_records, 23u);
  ExpectMovedSevenOfTen();
}

TEST_F(RetentionTest, AnotherLedgersArchiveIsRefusedBeforeAnythingChanges) {
  Build(10, 5);
  PutInArchive(3, [](int i, const ChainState& s) { return *BuildRecord(testing::Entry(100 + i), s.size, s.last, kNow); });
  auto r = Move(3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("record 2 is not this ledger's"), std::string::npos) << r.status().message();
  EXPECT_FALSE(store_.base.has_value());
  EXPECT_EQ(store_.segments.size(), 10u);
  EXPECT_EQ(ArchiveRecords().size(), 3u);
}

TEST_F(RetentionTest, AnUnexpiredConsumptionHoldsItsSegmentAndAllAfterIt) {
  // Record 22 (segment 4) consumes a jti that expires after now; record 7
  // (segment 1) one that has expired.
  Build(10, 5, [](int i) -> json {
    if (i == 22) return {{"exp", kNowUnix + 60}, {"op", "consume"}};
    if (i == 7) return {{"exp", kNowUnix - 1}, {"op", "consume"}};
    return nullptr;
  });
  auto r = Move(1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->moved_segments, 4u);
  EXPECT_EQ(r->first_seq, 20u);
  EXPECT_NE(r->held_by.find("segment 4 holds a consumption that has not expired"), std::string::npos) << r->held_by;
  EXPECT_EQ(store_.segments.count(4), 1u);
  EXPECT_EQ(ArchiveRecords().size(), 20u);
}

TEST_F(RetentionTest, AYoungSegmentStays) {
  Build(10, 5);
  store_.segments[2].created = kNow - std::chrono::minutes(5);
  auto archive = OpenBackend(archive_url_, BackendOptions{});
  ASSERT_TRUE(archive.ok());
  FakeLedger ledger(&store_.tail, &store_.tail_records, &store_.ops);
  RetentionOptions o = Options(3);
  o.min_age = std::chrono::minutes(10);
  auto r = MoveOldSegments(store_, **archive, ledger, key_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->moved_segments, 2u);
  EXPECT_NE(r->held_by.find("younger"), std::string::npos) << r->held_by;
}

TEST_F(RetentionTest, ASecondCutContinuesTheArchiveAndADifferentEmptyArchiveIsRefused) {
  Build(10, 5);
  ASSERT_TRUE(Move(8).ok());  // segments 0, 1
  EXPECT_EQ(store_.base->first_seq, 10u);
  // Elsewhere: an archive without records 0..9 cannot take the next cut.
  std::string first_archive = archive_url_;
  archive_url_ = "file:" + dir_ + "/other.jsonl";
  auto refused = Move(3);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("were moved to " + first_archive), std::string::npos)
      << refused.status().message();
  archive_url_ = first_archive;
  auto r = Move(3);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->moved_segments, 5u);
  EXPECT_EQ(store_.base->moved_from_segment, 2u);
  auto archived = ArchiveRecords();
  ASSERT_EQ(archived.size(), 35u);
  for (size_t i = 0; i < archived.size(); ++i) EXPECT_EQ(archived[i], store_.all[i]) << "seq " << i;
  auto rec = json::parse(store_.tail_records.back());
  EXPECT_EQ(rec["moved"]["from"], 10);
  EXPECT_EQ(rec["moved"]["to"], 35);
}

TEST_F(RetentionTest, TheBaseRoundTripsAndItsMessageNamesTheArchive) {
  RetentionBase b;
  Build(1, 3);
  b.first_seq = 3;
  b.first_segment = 1;
  b.state = store_.tail;
  b.archive = "file:/var/lib/execgov/archive.jsonl";
  b.time = "2027-01-15T08:00:00Z";
  b.checkpoint = *SignCheckpoint({"audit", 3, store_.tail.tree.Root()}, key_);
  b.record_seq = 3;
  auto back = RetentionBase::FromJson(b.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToJson(), b.ToJson());
  EXPECT_EQ(MovedMessage(b),
            "records 0..2 were moved to file:/var/lib/execgov/archive.jsonl at 2027-01-15T08:00:00Z; pass --archive "
            "file:/var/lib/execgov/archive.jsonl to read them");
  json bad = b.ToJson();
  bad["firstSeq"] = 4;  // not where its state is
  EXPECT_FALSE(RetentionBase::FromJson(bad).ok());
}

}  // namespace
}  // namespace execgov::ledger
