// The compact record index of the file backend: every inserted hash is found
// at its offset through growth, an absent hash is not, and a hash that only
// shares a record's prefix is a candidate the caller's confirmation rejects.
#include "ledger/offset_index.h"

#include <gtest/gtest.h>

#include <map>

#include "crypto/sha256.h"

namespace execgov::ledger {
namespace {

Hash HashOf(int i) { return LeafHash("record " + std::to_string(i)); }

TEST(OffsetIndexTest, FindsEveryRecordAtItsOffsetThroughGrowth) {
  OffsetIndex index;
  std::map<uint64_t, Hash> at;  // what the "file" holds at each offset
  constexpr int kRecords = 100000;
  for (int i = 0; i < kRecords; ++i) {
    uint64_t offset = uint64_t(i) * 700 + (uint64_t(1) << 40);  // offsets beyond 32 bits stay exact
    ASSERT_TRUE(index.Insert(HashOf(i), offset));
    at[offset] = HashOf(i);
  }
  EXPECT_EQ(index.size(), size_t(kRecords));
  int confirms = 0;
  auto confirm_for = [&](const Hash& h) {
    return [&, h](uint64_t offset) -> StatusOr<bool> {
      ++confirms;
      auto it = at.find(offset);
      return it != at.end() && it->second == h;
    };
  };
  for (int i = 0; i < kRecords; ++i) {
    auto found = index.Find(HashOf(i), confirm_for(HashOf(i)));
    ASSERT_TRUE(found.ok());
    ASSERT_TRUE(*found) << i;
  }
  // A full 8-byte prefix match is needed before a record is read at all.
  EXPECT_EQ(confirms, kRecords);
  confirms = 0;
  for (int i = kRecords; i < 2 * kRecords; ++i) {
    auto found = index.Find(HashOf(i), confirm_for(HashOf(i)));
    ASSERT_TRUE(found.ok());
    ASSERT_FALSE(*found) << i;
  }
  EXPECT_EQ(confirms, 0);
}

TEST(OffsetIndexTest, AHashSharingARecordsPrefixIsConfirmedAndRejected) {
  OffsetIndex index;
  ASSERT_TRUE(index.Insert(HashOf(1), 0));
  ASSERT_TRUE(index.Insert(HashOf(2), 100));
  Hash forged = HashOf(1);
  forged[31] ^= 1;  // same first 8 bytes, another hash
  std::vector<uint64_t> asked;
  auto found = index.Find(forged, [&](uint64_t offset) -> StatusOr<bool> {
    asked.push_back(offset);
    return false;  // the record at that offset does not hash to `forged`
  });
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(*found);
  EXPECT_EQ(asked, std::vector<uint64_t>{0});
  // Two records with one prefix (as a forged-prefix record would be): both
  // are candidates, in turn.
  ASSERT_TRUE(index.Insert(forged, 200));
  asked.clear();
  found = index.Find(forged, [&](uint64_t offset) -> StatusOr<bool> {
    asked.push_back(offset);
    return offset == 200;
  });
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(*found);
  EXPECT_EQ(asked, (std::vector<uint64_t>{0, 200}));
  // A confirmation that cannot read the record is an error, not an answer.
  auto failed = index.Find(forged, [](uint64_t) -> StatusOr<bool> { return Unavailable("cannot read"); });
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
}

TEST(OffsetIndexTest, AnEmptyIndexFindsNothing) {
  OffsetIndex index;
  auto found = index.Find(HashOf(1), [](uint64_t) -> StatusOr<bool> {
    ADD_FAILURE() << "nothing to confirm";
    return true;
  });
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(*found);
}

// Hashes are uniform in practice, but the tables must not depend on it:
// records whose prefixes all share their top bits land in one table, which
// then grows alone while the others stay empty.
TEST(OffsetIndexTest, RecordsThatAllFallInOneTableAreStillFound) {
  OffsetIndex index;
  auto hash_of = [](int i) {
    Hash h = HashOf(i);
    h[0] = 0x00;  // the same top bits for every record: the same table
    return h;
  };
  constexpr int kRecords = 5000;
  for (int i = 0; i < kRecords; ++i) ASSERT_TRUE(index.Insert(hash_of(i), uint64_t(i)));
  for (int i = 0; i < kRecords; ++i) {
    auto found = index.Find(hash_of(i), [&](uint64_t offset) -> StatusOr<bool> { return offset == uint64_t(i); });
    ASSERT_TRUE(found.ok());
    ASSERT_TRUE(*found) << i;
  }
  Hash other = HashOf(kRecords);
  other[0] = 0xff;  // a table nothing was put in
  auto missing = index.Find(other, [](uint64_t) -> StatusOr<bool> { return true; });
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(*missing);
}

}  // namespace
}  // namespace execgov::ledger
