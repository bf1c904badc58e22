// The operator's view of the ledger: admissions by uid, execution steps by
// (request uid, phase) with the seq and hash the ledger gave them, read
// incrementally from a real (file) ledger; and the allowed creations whose
// object has not been seen yet.
#include <gtest/gtest.h>

#include "controllers/ledger_index.h"
#include "core/clock.h"
#include "crypto/sha256.h"
#include "ledger/backend.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/record.h"
#include "support/subprocess.h"

namespace execgov::controllers {
namespace {

using nlohmann::json;

json Admission(const std::string& uid) {
  return {{"type", "admission"}, {"decision", "allowed"}, {"object", {{"kind", "Pod"}, {"uid", uid}}}};
}

json Step(const std::string& uid, const std::string& phase) {
  return {{"type", "execution"}, {"phase", phase}, {"object", {{"kind", "ExecutionRequest"}, {"uid", uid}}}};
}

// A store whose first `first` records were moved out (ledger retention).
class TrimmedBackend final : public ledger::Backend {
 public:
  TrimmedBackend(std::unique_ptr<ledger::Backend> inner, uint64_t first) : inner_(std::move(inner)), first_(first) {}
  StatusOr<ledger::ChainState> Tail() override { return inner_->Tail(); }
  Status Append(const BuildFn& build) override { return inner_->Append(build); }
  Status Scan(uint64_t from, uint64_t to, const RecordFn& fn) override {
    if (from < first_) return FailedPrecondition("moved out");
    return inner_->Scan(from, to, fn);
  }
  StatusOr<bool> Contains(const ledger::Hash& h) override { return inner_->Contains(h); }
  StatusOr<uint64_t> First() override { return first_; }
  size_t MaxBatch() const override { return inner_->MaxBatch(); }
  std::string DefaultOrigin() const override { return inner_->DefaultOrigin(); }
  Status Close() override { return inner_->Close(); }

 private:
  std::unique_ptr<ledger::Backend> inner_;
  uint64_t first_;
};

TEST(LedgerIndexTest, ATrimmedStoreIsReadFromItsFirstRecordWhoseTimeIsKept) {
  testing::TempDir dir;
  std::string url = "file:" + dir.File("ledger.jsonl");
  auto ledger = ledger::OpenLedger(url, {});
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  for (const char* uid : {"pod-1", "pod-2", "pod-3", "pod-4"}) ASSERT_TRUE((*ledger)->Append(Admission(uid)).ok());
  std::string third;
  auto reader = ledger::OpenBackend(url, {.read_only = true});
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->Scan(2, 3, [&](uint64_t, std::string_view b) {
    third = std::string(b);
    return Status::Ok();
  }).ok());
  TrimmedBackend trimmed(std::move(reader).value(), 2);
  LedgerIndex index(&trimmed);
  ASSERT_TRUE(index.CatchUp().ok());
  EXPECT_FALSE(index.HasAdmission("pod-2"));  // moved out: never read
  EXPECT_TRUE(index.HasAdmission("pod-3"));
  EXPECT_TRUE(index.HasAdmission("pod-4"));
  auto header = ledger::ScanRecord(third);
  ASSERT_TRUE(header.ok());
  ASSERT_TRUE(index.trimmed_before().has_value());
  EXPECT_EQ(*index.trimmed_before(), *ParseRfc3339(header->time));

  // A store read from seq 0 has no such time.
  auto whole = ledger::OpenBackend(url, {.read_only = true});
  LedgerIndex full(whole->get());
  ASSERT_TRUE(full.CatchUp().ok());
  EXPECT_TRUE(full.HasAdmission("pod-1"));
  EXPECT_FALSE(full.trimmed_before().has_value());
}

TEST(LedgerIndexTest, CatchUpReadsOnlyWhatWasAppendedSince) {
  testing::TempDir dir;
  std::string url = "file:" + dir.File("ledger.jsonl");
  auto ledger = ledger::OpenLedger(url, {});
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  ASSERT_TRUE((*ledger)->Append(Admission("pod-1")).ok());
  auto authorized = (*ledger)->Append(Step("req-1", "Authorized"));
  ASSERT_TRUE(authorized.ok());

  auto reader = ledger::OpenBackend(url, {.read_only = true});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  LedgerIndex index(reader->get());
  EXPECT_FALSE(index.loaded());
  ASSERT_TRUE(index.EnsureLoaded().ok());
  EXPECT_TRUE(index.loaded());
  EXPECT_TRUE(index.HasAdmission("pod-1"));
  EXPECT_FALSE(index.HasAdmission("pod-2"));
  auto step = index.FindStep("req-1", "Authorized");
  ASSERT_TRUE(step.has_value());
  EXPECT_EQ(step->seq, authorized->seq);
  EXPECT_EQ(step->hash, authorized->hash);
  EXPECT_FALSE(index.FindStep("req-1", "Running").has_value());
  uint64_t after_first = index.next_seq();
  EXPECT_EQ(after_first, authorized->seq + 1);

  ASSERT_TRUE((*ledger)->Append(Admission("pod-2")).ok());
  auto running = (*ledger)->Append(Step("req-1", "Running"));
  ASSERT_TRUE(running.ok());
  ASSERT_TRUE(index.EnsureLoaded().ok());  // already loaded: reads nothing
  EXPECT_FALSE(index.HasAdmission("pod-2"));
  ASSERT_TRUE(index.CatchUp().ok());
  EXPECT_TRUE(index.HasAdmission("pod-2"));
  ASSERT_TRUE(index.FindStep("req-1", "Running").has_value());
  EXPECT_EQ(index.FindStep("req-1", "Running")->hash, running->hash);
  EXPECT_EQ(index.admission_count(), 2u);
  EXPECT_EQ(index.step_count(), 2u);
  EXPECT_GE(index.next_seq(), running->seq + 1);
}

TEST(LedgerIndexTest, TheFirstRecordOfAStepWins) {
  LedgerIndex index(nullptr);
  // A step noted by this process and then read back keeps its first record.
  index.NoteStep("req-1", "Authorized", {4, "sha256:first"});
  std::string bytes = Step("req-1", "Authorized").dump();
  index.Add(9, bytes);
  EXPECT_EQ(index.FindStep("req-1", "Authorized")->seq, 4u);
  EXPECT_EQ(index.next_seq(), 10u);
}

TEST(LedgerIndexTest, IgnoresWhatIsNotAnAdmissionOrAStep) {
  LedgerIndex index(nullptr);
  index.Add(0, "not json");
  index.Add(1, R"({"type":"checkpoint","checkpoint":"note"})");
  index.Add(2, R"({"type":"execution","object":{"uid":"req-1"}})");  // no phase
  index.Add(3, R"({"type":"policy","object":{"uid":"p-1"}})");
  index.Add(4, R"({"type":"admission","object":{"uid":""}})");
  EXPECT_EQ(index.admission_count(), 0u);
  EXPECT_EQ(index.step_count(), 0u);
  EXPECT_EQ(index.next_seq(), 5u);
  EXPECT_FALSE(index.HasAdmission("p-1"));
}

// An admission record as the webhook writes it for a CREATE.
std::string Create(const std::string& uid, const std::string& decision = "allowed", const std::string& kind = "Pod") {
  return json({{"type", "admission"},
               {"decision", decision},
               {"time", "2027-01-15T08:00:00.000Z"},
               {"object",
                {{"kind", kind}, {"namespace", "ns"}, {"name", "n-" + uid}, {"uid", uid}, {"operation", "CREATE"}}}})
      .dump();
}

std::vector<std::string> UnmatchedUids(const LedgerIndex& index, const Clock& clock) {
  std::vector<std::string> uids;
  for (const auto& c : index.UnmatchedReadBy(clock.Now())) uids.push_back(c.uid);
  return uids;
}

TEST(LedgerIndexTest, KeepsAllowedCreatesOnlyFromWhereTrackingBegan) {
  FakeClock clock(1800000000);
  LedgerIndex index(nullptr, &clock);
  index.Add(0, Create("before"));
  EXPECT_EQ(index.unmatched_count(), 0u);  // nothing is kept until asked
  EXPECT_EQ(index.TrackCreatesFromHere(), 1u);
  index.Add(1, Create("pod-1"));
  index.Add(2, Create("denied", "denied"));
  index.Add(3, Create("cm", "allowed", "ConfigMap"));
  index.Add(4, json({{"type", "admission"}, {"decision", "allowed"}, {"derived", true},
                     {"object", {{"kind", "Pod"}, {"uid", "derived"}, {"operation", "CREATE"}}}}).dump());
  index.Add(5, json({{"type", "admission"}, {"decision", "allowed"},
                     {"object", {{"kind", "Pod"}, {"uid", "updated"}, {"operation", "UPDATE"}}}}).dump());
  index.Add(6, Create("job-1", "allowed", "Job"));
  index.Add(7, Create("pod-1"));  // the same uid again keeps the first
  EXPECT_EQ(UnmatchedUids(index, clock), (std::vector<std::string>{"pod-1", "job-1"}));
  auto all = index.UnmatchedReadBy(clock.Now());
  EXPECT_EQ(all[0].seq, 1u);
  EXPECT_EQ(all[0].hash, crypto::HashToSha256Ref(ledger::LeafHash(Create("pod-1"))));
  EXPECT_EQ(all[0].recorded, "2027-01-15T08:00:00.000Z");
  EXPECT_EQ(all[0].kind, "Pod");
  EXPECT_EQ(all[0].ns, "ns");
  EXPECT_EQ(all[0].name, "n-pod-1");
  // Tracking again from here drops what was kept before.
  EXPECT_EQ(index.TrackCreatesFromHere(), 8u);
  EXPECT_EQ(index.unmatched_count(), 0u);
}

TEST(LedgerIndexTest, LaterRecordsOfTheObjectOrItsOutcomeDropTheCreate) {
  FakeClock clock(1800000000);
  LedgerIndex index(nullptr, &clock);
  index.TrackCreatesFromHere();
  for (const char* uid : {"updated", "req-1", "job-1", "marked", "kept"}) index.Add(index.next_seq(), Create(uid));
  index.Add(index.next_seq(),
            json({{"type", "admission"},
                  {"decision", "denied"},
                  {"object", {{"kind", "Pod"}, {"uid", "updated"}, {"operation", "UPDATE"}}}})
                .dump());
  index.Add(index.next_seq(), json({{"type", "execution"}, {"phase", "Running"},
                                    {"object", {{"kind", "ExecutionRequest"}, {"uid", "req-1"}}},
                                    {"job", {{"name", "j"}, {"uid", "job-1"}}}}).dump());
  index.Add(index.next_seq(), json({{"type", "outcome"}, {"outcome", "not-created"},
                                    {"object", {{"kind", "Pod"}, {"uid", "marked"}}}}).dump());
  index.Add(index.next_seq(), Create("kept", "denied"));  // a denial proves nothing
  EXPECT_EQ(UnmatchedUids(index, clock), (std::vector<std::string>{"kept"}));
  EXPECT_EQ(index.MatchCreates([](const LedgerIndex::UnmatchedCreate& c) { return c.uid == "kept"; }), 1u);
  EXPECT_EQ(index.unmatched_count(), 0u);
}

TEST(LedgerIndexTest, UnmatchedCreatesAreTimedByTheIndexClockAndCapped) {
  FakeClock clock(1800000000);
  LedgerIndex index(nullptr, &clock);
  index.set_max_unmatched(2);
  index.TrackCreatesFromHere();
  index.Add(0, Create("early"));
  clock.Advance(std::chrono::seconds(30));
  index.Add(1, Create("late"));
  index.Add(2, Create("over-the-cap"));
  EXPECT_EQ(index.untracked_creates(), 1u);
  // The record's own time (2027) plays no part: only when it was read.
  EXPECT_EQ(index.UnmatchedReadBy(clock.Now() - std::chrono::seconds(30)).size(), 1u);
  EXPECT_EQ(UnmatchedUids(index, clock), (std::vector<std::string>{"early", "late"}));
  index.DropUnmatched("early");
  index.Add(3, Create("room-again"));
  EXPECT_EQ(UnmatchedUids(index, clock), (std::vector<std::string>{"late", "room-again"}));
}

}  // namespace
}  // namespace execgov::controllers
