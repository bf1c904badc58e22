// Batch::Add is the one place a built record is folded into the chain before
// a backend stores it (backends take its hashes and tail as they are), so it
// must give what folding the records one by one gives, and keep nothing of a
// record that does not continue the chain.
#include "ledger/backend.h"

#include <gtest/gtest.h>

#include "ledger/record.h"

namespace execgov::ledger {
namespace {

const auto kTime = std::chrono::system_clock::time_point(std::chrono::milliseconds(1790000000123));

std::string Admission(uint64_t seq, const Hash& prev, int n) {
  auto r = BuildRecord({{"type", "admission"}, {"n", n}}, seq, prev, kTime);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "";
}

TEST(Batch, AddFoldsEachRecordOnceAsApplyWould) {
  ChainState tail;  // a ledger of two records
  ASSERT_TRUE(tail.Apply(Admission(0, kGenesisPrev, 0)).ok());
  ASSERT_TRUE(tail.Apply(Admission(1, tail.last, 1)).ok());

  Batch batch;
  batch.after = tail;
  ChainState reference = tail;
  std::vector<Hash> reference_hashes;
  for (int n = 2; n < 5; ++n) {
    std::string r = Admission(batch.after.size, batch.after.last, n);
    auto h = reference.Apply(r);
    ASSERT_TRUE(h.ok());
    reference_hashes.push_back(*h);
    ASSERT_TRUE(batch.Add(r).ok());
    EXPECT_EQ(batch.records.back(), r);
  }
  EXPECT_EQ(batch.records.size(), 3u);
  EXPECT_EQ(batch.hashes, reference_hashes);
  EXPECT_EQ(batch.hashes.back(), LeafHash(batch.records.back()));
  EXPECT_EQ(batch.after.size, 5u);
  EXPECT_EQ(batch.after.last, reference.last);
  EXPECT_EQ(batch.after.tree.Root(), reference.tree.Root());
  EXPECT_EQ(batch.after.since_checkpoint, reference.since_checkpoint);
}

TEST(Batch, AddKeepsNothingOfARecordThatDoesNotContinueTheChain) {
  Batch batch;
  ASSERT_TRUE(batch.Add(Admission(0, kGenesisPrev, 0)).ok());
  const ChainState before = batch.after;

  Status wrong_seq = batch.Add(Admission(5, batch.after.last, 1));
  EXPECT_EQ(wrong_seq.code(), StatusCode::kDataLoss) << wrong_seq.ToString();
  Status wrong_prev = batch.Add(Admission(1, kGenesisPrev, 1));
  EXPECT_EQ(wrong_prev.code(), StatusCode::kDataLoss) << wrong_prev.ToString();
  Status not_a_record = batch.Add("{\"type\":\"admission\"}");
  EXPECT_EQ(not_a_record.code(), StatusCode::kDataLoss) << not_a_record.ToString();

  EXPECT_EQ(batch.records.size(), 1u);
  EXPECT_EQ(batch.hashes.size(), 1u);
  EXPECT_EQ(batch.after.size, before.size);
  EXPECT_EQ(batch.after.last, before.last);
  EXPECT_EQ(batch.after.tree.Root(), before.tree.Root());
}

}  // namespace
}  // namespace execgov::ledger
