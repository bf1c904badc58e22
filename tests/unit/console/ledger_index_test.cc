// The console's ledger index: filters and paging over a real file ledger,
// proofs that verify with the auditor's own verifier, a record changed on
// disk marked broken and its proof failing, and a rolled-back file read
// again from the start.
#include "console/ledger_index.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "authority/approval.h"
#include "core/clock.h"
#include "core/file.h"
#include "crypto/encoding.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/proof.h"

namespace execgov::console {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json Admission(const std::string& kind, const std::string& name, const std::string& uid, const std::string& jti,
               bool allowed) {
  json e = {{"type", "admission"},
            {"decision", allowed ? "allowed" : "denied"},
            {"reason", allowed ? "Verified" : "ReplayDetected"},
            {"object", {{"kind", kind}, {"namespace", "team-a"}, {"name", name}, {"uid", uid}}}};
  if (!jti.empty()) e["artifact"] = {{"jti", jti}, {"sub", "agent:rotator"}, {"iss", "ops"}, {"kid", "k1"}};
  return e;
}

class ConsoleIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("execgov-console-index-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "ledger.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The story of one execution and some noise: 0 ER, 1 Job, 2-3 Pods, 4 a
  // replay of the ER's artifact, 5..24 other jobs; checkpoints every 10.
  void Write() {
    ledger::LedgerOptions o;
    o.checkpoint_every_records = 10;
    o.clock = &clock_;
    auto l = ledger::OpenLedger("file:" + path_, o);
    ASSERT_TRUE(l.ok()) << l.status().message();
    ASSERT_TRUE((*l)->Append(Admission("ExecutionRequest", "rotate", "er-1", "J1", true)).ok());
    ASSERT_TRUE((*l)->Append(Admission("Job", "rotate-job", "job-1", "J1", true)).ok());
    ASSERT_TRUE((*l)->Append(Admission("Pod", "rotate-job-a", "pod-1", "J1", true)).ok());
    ASSERT_TRUE((*l)->Append(Admission("Pod", "rotate-job-b", "pod-2", "J1", true)).ok());
    ASSERT_TRUE((*l)->Append(Admission("ExecutionRequest", "rotate-again", "er-2", "J1", false)).ok());
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE((*l)->Append(Admission("Job", "other-" + std::to_string(i), "u" + std::to_string(i),
                                         "K" + std::to_string(i), true))
                      .ok());
    }
    ASSERT_TRUE((*l)->Close().ok());
  }

  crypto::PublicKey Key() { return *crypto::PublicKey::FromPem(*ReadFile(path_ + ".key.pub")); }

  std::vector<std::string> Lines() {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  void WriteLines(const std::vector<std::string>& lines) {
    std::ofstream out(path_, std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
  }

  fs::path dir_;
  std::string path_;
  FakeClock clock_{1790000000};
};

TEST_F(ConsoleIndexTest, PagesNewestFirstAndFilters) {
  Write();
  auto index = LedgerIndex::Open("file:" + path_);
  ASSERT_TRUE(index.ok()) << index.status().message();
  const uint64_t n = (*index)->size();
  ASSERT_GT(n, 25u);  // records and checkpoints

  auto first = (*index)->Query({}, std::nullopt, 10);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->seqs.size(), 10u);
  EXPECT_EQ(first->seqs.front(), n - 1);
  ASSERT_TRUE(first->next_before);
  auto second = (*index)->Query({}, first->next_before, 10);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->seqs.front(), first->seqs.back() - 1);

  RecordFilter by_jti;
  by_jti.jti = "J1";
  auto j = (*index)->Query(by_jti, std::nullopt, 50);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->seqs, (std::vector<uint64_t>{4, 3, 2, 1, 0}));
  EXPECT_FALSE(j->next_before);

  RecordFilter denied;
  denied.decision = "denied";
  denied.object = "team-a/rotate-again";
  auto d = (*index)->Query(denied, std::nullopt, 50);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->seqs, std::vector<uint64_t>{4});

  RecordFilter nothing;
  nothing.uid = "no-such-uid";
  EXPECT_TRUE((*index)->Query(nothing, std::nullopt, 50)->seqs.empty());

  RecordFilter checkpoints;
  checkpoints.type = "checkpoint";
  EXPECT_EQ((*index)->Query(checkpoints, std::nullopt, 50)->seqs.size(), 3u);

  EXPECT_FALSE((*index)->Query({}, std::nullopt, 0).ok());
  EXPECT_FALSE((*index)->Query({}, std::nullopt, kMaxPageSize + 1).ok());
}

TEST_F(ConsoleIndexTest, TimeRangeIsInclusive) {
  Write();
  auto index = LedgerIndex::Open("file:" + path_);
  ASSERT_TRUE(index.ok());
  RecordFilter f;
  f.since_ms = int64_t{1790000000} * 1000;
  f.until_ms = int64_t{1790000000} * 1000;
  EXPECT_EQ((*index)->Query(f, std::nullopt, 200)->seqs.size(), (*index)->size());
  f.since_ms = int64_t{1790000001} * 1000;
  EXPECT_TRUE((*index)->Query(f, std::nullopt, 200)->seqs.empty());
}

TEST_F(ConsoleIndexTest, ProofsVerifyWithTheAuditorsVerifier) {
  Write();
  auto index = LedgerIndex::Open("file:" + path_);
  ASSERT_TRUE(index.ok());
  auto cp = (*index)->latest_checkpoint();
  ASSERT_TRUE(cp);
  for (uint64_t seq : {uint64_t{0}, uint64_t{2}, cp->size - 1}) {
    auto proof = (*index)->InclusionProof(seq);
    ASSERT_TRUE(proof.ok()) << proof.status().message();
    auto verified = ledger::VerifyInclusionProof(*proof, Key());
    EXPECT_TRUE(verified.ok()) << seq << ": " << verified.status().message();
  }
  EXPECT_EQ((*index)->InclusionProof(cp->size).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*index)->InclusionProof(10000).status().code(), StatusCode::kNotFound);

  auto consistency = (*index)->ConsistencyProof(5, cp->size);
  ASSERT_TRUE(consistency.ok());
  std::vector<std::string> raw;
  for (const auto& b : *consistency) raw.push_back(*crypto::Base64Decode(b));
  auto r1 = (*index)->RootAt(5), r2 = (*index)->RootAt(cp->size);
  EXPECT_TRUE(ledger::VerifyConsistency(5, cp->size, raw, crypto::HashBytes(*r1), crypto::HashBytes(*r2)).ok());
  EXPECT_FALSE((*index)->ConsistencyProof(0, 3).ok());
  EXPECT_FALSE((*index)->ConsistencyProof(4, 3).ok());
}

TEST_F(ConsoleIndexTest, StoryIsTheArtifactsRecordsAndItsParents) {
  Write();
  auto index = LedgerIndex::Open("file:" + path_);
  ASSERT_TRUE(index.ok());
  std::vector<uint64_t> parents;
  auto story = (*index)->Story(2, &parents);
  ASSERT_TRUE(story.ok());
  EXPECT_EQ(*story, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(parents.empty());
}

// An approved execution (issue 20) as its writers record it: the webhook's
// admission of the request without an artifact, its `approval` records
// (authority::ApprovalRecord, as the webhook writes them: no jti, the
// request by uid), the authority's grant (its own `jti`), the attach, the
// Job and Pods under the granted artifact, and noise that must stay out.
TEST_F(ConsoleIndexTest, StoryLinksApprovalsAndTheGrantByTheRequestsUid) {
  const std::string old_digest = "sha256:" + std::string(64, '1'), digest = "sha256:" + std::string(64, '2');
  auto approval = [&](const std::string& request_uid, const std::string& approver, const std::string& d, bool allowed,
                      const std::string& uid) {
    authority::Approval a;
    a.ns = "team-a";
    a.name = "approve-" + uid;
    a.uid = uid;
    a.request_name = "rotate";
    a.request_uid = request_uid;
    a.request_digest = d;
    a.approve = true;
    a.approver = approver;
    a.reason = "change OPS-1";
    authority::ApprovalJudgement j;
    j.allowed = allowed;
    j.message = allowed ? "Approve of team-a/rotate" : "agent:rotator is the initiator";
    j.rule = "ops/review";
    j.initiator = "agent:rotator";
    if (allowed) j.groups = {"ops-approvers"};
    return authority::ApprovalRecord(a, j, approver);
  };
  json awaiting = Admission("ExecutionRequest", "rotate", "er-a", "", true);
  awaiting["authorization"] = "awaiting";
  awaiting["digest"] = digest;
  json grant = {{"type", "grant"},
                {"authority", "execgov-authority"},
                {"kid", "auth-1"},
                {"rule", {{"policy", "ops"}, {"name", "review"}, {"generation", 1}}},
                {"jti", "GA"},
                {"initiator", "agent:rotator"},
                {"object", {{"kind", "ExecutionRequest"}, {"namespace", "team-a"}, {"name", "rotate"}, {"uid", "er-a"}}},
                {"digest", digest},
                {"approvals", {{{"approver", "alice"}, {"name", "approve-ap-3"}, {"uid", "ap-3"}}}}};
  json attach = Admission("ExecutionRequest", "rotate", "er-a", "GA", true);
  attach["authorization"] = "attach";
  json step = Admission("ExecutionRequest", "rotate", "er-a", "GA", true);
  step["type"] = "execution";
  step["phase"] = "Running";
  {
    ledger::LedgerOptions o;
    o.clock = &clock_;
    auto l = ledger::OpenLedger("file:" + path_, o);
    ASSERT_TRUE(l.ok()) << l.status().message();
    for (const json& r : {
             awaiting,                                                          // 0
             approval("er-a", "carol", old_digest, true, "ap-1"),               // 1 void: an older digest
             approval("er-a", "agent:rotator", digest, false, "ap-2"),          // 2 refused by the webhook
             approval("er-b", "alice", digest, true, "ap-b"),                   // 3 another request's
             approval("er-a", "alice", digest, true, "ap-3"),                   // 4
             Admission("Job", "other", "u-other", "K0", true),                  // 5 noise
             grant,                                                             // 6
             attach,                                                            // 7
             Admission("Job", "rotate-job", "job-a", "GA", true),               // 8
             Admission("Pod", "rotate-job-x", "pod-a", "GA", true),             // 9
             step,                                                              // 10
             Admission("Pod", "thief", "pod-t", "GA", false),                   // 11 a replay, refused
             Admission("Pod", "thief", "pod-t", "K1", true),                    // 12 the thief's own artifact
         }) {
      ASSERT_TRUE((*l)->Append(r).ok());
    }
    ASSERT_TRUE((*l)->Close().ok());
  }
  auto index = LedgerIndex::Open("file:" + path_);
  ASSERT_TRUE(index.ok()) << index.status().message();
  const std::vector<uint64_t> want = {0, 1, 2, 4, 6, 7, 8, 9, 10, 11};
  // The same story from the Pod, an approval, the grant and the waiting
  // request's first record: the links run both ways.
  for (uint64_t from : {9, 4, 6, 0}) {
    std::vector<uint64_t> parents;
    auto story = (*index)->Story(from, &parents);
    ASSERT_TRUE(story.ok()) << story.status().message();
    EXPECT_EQ(*story, want) << "the story of seq " << from;
    EXPECT_TRUE(parents.empty());
  }
  // A search by the artifact's jti finds the grant that minted it.
  RecordFilter by_jti;
  by_jti.jti = "GA";
  EXPECT_EQ((*index)->Query(by_jti, std::nullopt, 50)->seqs, (std::vector<uint64_t>{11, 10, 9, 8, 7, 6}));
  // From the refused replay: the artifact's story, and the replaying Pod's own
  // records (the record shown is followed, refused or not).
  std::vector<uint64_t> parents;
  auto from_replay = (*index)->Story(11, &parents);
  ASSERT_TRUE(from_replay.ok());
  EXPECT_EQ(*from_replay, (std::vector<uint64_t>{0, 1, 2, 4, 6, 7, 8, 9, 10, 11, 12}));
}

TEST_F(ConsoleIndexTest, ARecordChangedOnDiskIsBrokenAndItsProofFails) {
  Write();
  auto lines = Lines();
  const std::string before = lines[4];
  size_t at = lines[4].find("\"denied\"");
  ASSERT_NE(at, std::string::npos);
  lines[4].replace(at, 8, "\"allowed\"");
  WriteLines(lines);
  auto index = LedgerIndex::Open("file:" + path_);
  ASSERT_TRUE(index.ok());
  EXPECT_TRUE((*index)->Broken(4));
  EXPECT_FALSE((*index)->Broken(3));
  EXPECT_FALSE((*index)->Broken(5));
  EXPECT_EQ((*index)->broken(), std::vector<uint64_t>{4});
  auto proof = (*index)->InclusionProof(4);
  ASSERT_TRUE(proof.ok());
  EXPECT_EQ(ledger::VerifyInclusionProof(*proof, Key()).status().code(), StatusCode::kPermissionDenied);
  // So does an intact record's: its path, computed from the records as they
  // now are, carries the changed record's hash up to a root nobody signed.
  EXPECT_FALSE(ledger::VerifyInclusionProof(*(*index)->InclusionProof(1), Key()).ok());
}

TEST_F(ConsoleIndexTest, ARolledBackFileIsReadAgain) {
  Write();
  auto index = LedgerIndex::Open("file:" + path_);
  ASSERT_TRUE(index.ok());
  const uint64_t n = (*index)->size();
  auto lines = Lines();
  lines.resize(12);
  WriteLines(lines);
  ASSERT_TRUE((*index)->Refresh().ok());
  EXPECT_EQ((*index)->size(), 12u);
  EXPECT_EQ((*index)->generation(), 1u);
  EXPECT_LT((*index)->size(), n);
  // A same-length rewrite of the last record is noticed too.
  lines[11] = lines[11].substr(0, lines[11].size() - 1) + " }";
  WriteLines(lines);
  ASSERT_TRUE((*index)->Refresh().ok());
  EXPECT_EQ((*index)->generation(), 2u);
}

TEST_F(ConsoleIndexTest, AppendedRecordsAreFoldedIn) {
  Write();
  auto index = LedgerIndex::Open("file:" + path_);
  ASSERT_TRUE(index.ok());
  const uint64_t n = (*index)->size();
  ledger::LedgerOptions o;
  o.clock = &clock_;
  auto l = ledger::OpenLedger("file:" + path_, o);
  ASSERT_TRUE(l.ok());
  ASSERT_TRUE((*l)->Append(Admission("Job", "late", "late-1", "L1", true)).ok());
  ASSERT_TRUE((*l)->Close().ok());
  ASSERT_TRUE((*index)->Refresh().ok());
  EXPECT_EQ((*index)->size(), n + 2);  // the record and the final checkpoint
  EXPECT_EQ((*index)->generation(), 0u);
  RecordFilter f;
  f.name = "late";
  EXPECT_EQ((*index)->Query(f, std::nullopt, 5)->seqs, std::vector<uint64_t>{n});
}

}  // namespace
}  // namespace execgov::console
