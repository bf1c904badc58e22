// Records: the splice the writer uses gives exactly the canonical bytes of a
// full re-canonicalization; the header scanner reads what the ledger owns and
// refuses what is not a record.
#include "ledger/record.h"

#include <gtest/gtest.h>

#include "crypto/json.h"
#include "ledger/merkle.h"

namespace execgov::ledger {
namespace {

const auto kTime = std::chrono::system_clock::time_point(std::chrono::milliseconds(1790000000123));

TEST(Record, SpliceEqualsBuildRecord) {
  const std::vector<nlohmann::json> entries = {
      {{"type", "admission"}},
      {{"type", "admission"}, {"decision", "allowed"}, {"zeta", 1}, {"parent", "sha256:00"}, {"policy", {{"b", 1}, {"a", 2}}}},
      {{"type", "x"}, {"a\nb", "escaped key"}, {"s", 1e21}, {"\u00e9", "non-ascii key"}, {"\U0001F600", 2}},
      {{"type", "x"}, {"seqq", 1}, {"pre", 2}, {"prevv", 3}, {"tim", 4}, {"timez", 5}, {"se", 6}},
      {{"type", "x"}, {"A", "upper"}, {"object", {{"name", "with \"quotes\" and \\\\ backslashes"}}}},
  };
  Hash prev = LeafHash("previous");
  for (const auto& e : entries) {
    auto canonical = CanonicalEntry(e);
    ASSERT_TRUE(canonical.ok()) << e.dump();
    auto spliced = SpliceRecord(*canonical, 42, prev, kTime);
    auto built = BuildRecord(e, 42, prev, kTime);
    ASSERT_TRUE(spliced.ok() && built.ok());
    EXPECT_EQ(*spliced, *built) << e.dump();
  }
}

TEST(Record, CanonicalEntryRefusesWhatTheLedgerOwns) {
  EXPECT_FALSE(CanonicalEntry({{"type", "a"}, {"seq", 1}}).ok());
  EXPECT_FALSE(CanonicalEntry({{"type", "a"}, {"prev", "x"}}).ok());
  EXPECT_FALSE(CanonicalEntry({{"type", "a"}, {"time", "x"}}).ok());
  EXPECT_FALSE(CanonicalEntry({{"type", "checkpoint"}}).ok());
  EXPECT_FALSE(CanonicalEntry({{"decision", "allowed"}}).ok());
  EXPECT_FALSE(CanonicalEntry(nlohmann::json::array()).ok());
  EXPECT_FALSE(CanonicalEntry({{"type", "a"}, {"n", std::nan("")}}).ok());
}

TEST(Record, ScanReadsLedgerFields) {
  auto bytes = BuildRecord({{"type", "admission"}, {"object", {{"seq", 9}, {"prev", "{\"}"}}}}, 7, LeafHash("p"), kTime);
  ASSERT_TRUE(bytes.ok());
  auto h = ScanRecord(*bytes);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->seq, 7u);
  EXPECT_EQ(h->prev, LeafHash("p"));
  EXPECT_EQ(h->type, "admission");
  EXPECT_EQ(h->time, "2026-09-21T14:13:20.123Z");
}

TEST(Record, ScanRefusesWhatIsNotARecord) {
  for (const char* bad : {"", "[]", "{", "{\"seq\":1}", "{\"prev\":\"sha256:00\",\"seq\":0,\"time\":\"t\",\"type\":\"a\"}",
                          "{\"prev\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\","
                          "\"seq\":-1,\"time\":\"t\",\"type\":\"a\"}",
                          "{\"prev\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\","
                          "\"seq\":0,\"time\":\"t\",\"type\":\"a\"} trailing"}) {
    EXPECT_FALSE(ScanRecord(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace execgov::ledger
