// The operator's view of the ledger: admissions by uid, execution steps by
// (request uid, phase) with the seq and hash the ledger gave them, read
// incrementally from a real (file) ledger.
#include <gtest/gtest.h>

#include "controllers/ledger_index.h"
#include "ledger/backend.h"
#include "ledger/ledger.h"
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

}  // namespace
}  // namespace execgov::controllers
