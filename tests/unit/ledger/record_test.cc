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

// The builder gives CanonicalEntry's bytes for the same members, whatever
// the order they are added in, with escapes, non-ASCII values, large and
// negative integers, and nested objects.
TEST(Record, EntryBuilderEqualsCanonicalEntry) {
  const std::string odd = "quote \" backslash \\ newline \n tab \t nul " + std::string(1, '\0') + " \u00e9 \U0001F600";
  const int64_t big = (int64_t(1) << 53) + 1;  // printed as a double, as Canonicalize prints it
  EntryBuilder b;
  b.Str("user", odd)
      .Str("type", "admission")
      .Obj("policy", std::move(EntryBuilder().Str("name", "p").Int("generation", 7).Str("enforcement", "Enforce")))
      .Int("zero", 0)
      .Int("negative", -12)
      .Int("big", big)
      .Obj("empty", EntryBuilder())
      .Str("Upper", "sorts before lower case")
      .Str("decision", "");
  nlohmann::json j = {{"user", odd},      {"type", "admission"},
                      {"policy", {{"name", "p"}, {"generation", 7}, {"enforcement", "Enforce"}}},
                      {"zero", 0},        {"negative", -12},   {"big", big},
                      {"empty", nlohmann::json::object()}, {"Upper", "sorts before lower case"}, {"decision", ""}};
  auto built = std::move(b).Build();
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  auto want = CanonicalEntry(j);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(built->canonical(), *want);
  EXPECT_NE(built->canonical().find("9007199254740992"), std::string::npos);  // 2^53 + 1 as a double

  // Bytes that are not UTF-8 are replaced, so the record stays JSON.
  const std::string raw = "cut \xE2\x82 here \xff";
  auto invalid = std::move(EntryBuilder().Str("type", "admission").Str("name", raw)).Build();
  ASSERT_TRUE(invalid.ok());
  auto parsed = nlohmann::json::parse(invalid->canonical(), nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << invalid->canonical();
  EXPECT_EQ(parsed["name"], nlohmann::json::parse(nlohmann::json(raw).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  EXPECT_NE(parsed["name"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);
}

TEST(Record, EntryBuilderRefusesWhatCanonicalEntryRefuses) {
  auto build = [](EntryBuilder b) { return std::move(b).Build().status(); };
  for (const char* owned : {"seq", "prev", "time", "checkpoint"}) {
    Status st = build(std::move(EntryBuilder().Str("type", "a").Str(owned, "x")));
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << owned;
    EXPECT_EQ(st.message(), CanonicalEntry({{"type", "a"}, {owned, "x"}}).status().message()) << owned;
  }
  EXPECT_EQ(build(std::move(EntryBuilder().Str("type", "checkpoint"))).message(),
            CanonicalEntry({{"type", "checkpoint"}}).status().message());
  EXPECT_EQ(build(std::move(EntryBuilder().Str("decision", "allowed"))).message(),
            CanonicalEntry({{"decision", "allowed"}}).status().message());
  EXPECT_EQ(build(std::move(EntryBuilder().Int("type", 1))).message(), CanonicalEntry({{"type", 1}}).status().message());
  EXPECT_EQ(build(std::move(EntryBuilder().Str("type", ""))).message(), CanonicalEntry({{"type", ""}}).status().message());
  // What only a builder can get wrong: a name twice, and names that would
  // need escaping or sort differently in UTF-16, at the top or nested.
  EXPECT_EQ(build(std::move(EntryBuilder().Str("type", "a").Str("x", "1").Int("x", 2))).message(),
            "a ledger entry sets \"x\" twice");
  EXPECT_FALSE(build(std::move(EntryBuilder().Str("type", "a").Str("\u00e9", "1"))).ok());
  EXPECT_FALSE(build(std::move(EntryBuilder().Str("type", "a").Str("a\"b", "1"))).ok());
  EXPECT_FALSE(build(std::move(EntryBuilder().Str("type", "a").Obj("o", std::move(EntryBuilder().Str("a\n", "1"))))).ok());
  EXPECT_FALSE(build(std::move(EntryBuilder().Str("type", "a").Obj("o", std::move(EntryBuilder().Str("k", "1").Str("k", "2"))))).ok());
  // A nested "seq" is the entry's own business, as CanonicalEntry has it.
  EXPECT_TRUE(build(std::move(EntryBuilder().Str("type", "a").Obj("o", std::move(EntryBuilder().Int("seq", 1))))).ok());
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


TEST(Record, BoundedStringCutsAtACharacterAndSaysHowLong) {
  EXPECT_EQ(BoundedString("short", 63), "short");
  EXPECT_EQ(BoundedString(std::string(63, 'a'), 63), std::string(63, 'a'));
  std::string cut = BoundedString(std::string(64, 'a'), 63);
  EXPECT_EQ(cut.size(), 63u);
  EXPECT_EQ(cut, std::string(39, 'a') + "\xE2\x80\xA6[truncated, 64 bytes]");
  // Never half a character: 2-byte characters cut before a lead byte.
  std::string e_acute;
  for (int i = 0; i < 600; ++i) e_acute += "\xC3\xA9";
  std::string b = BoundedString(e_acute, 253);
  EXPECT_LE(b.size(), 253u);
  EXPECT_TRUE(nlohmann::json::accept(nlohmann::json(b).dump())) << b;
  EXPECT_NE(b.find("[truncated, 1200 bytes]"), std::string::npos);
  EXPECT_EQ(b.find("\xC3\xA9\xE2\x80\xA6") + 2, b.find("\xE2\x80\xA6"));
}

// The worst an admission can put in a record: every field the handler copies
// at a megabyte of control characters (six bytes each once escaped), with
// the handler's bounds. The entry and the record stay under their limits.
TEST(Record, TheWorstCaseAdmissionRecordStaysUnderTheLimit) {
  const std::string huge(1 << 20, '\x01');
  EntryBuilder entry;
  entry.Str("type", "admission")
      .Str("decision", "denied")
      .Str("reason", "MalformedArtifact")
      .Obj("object", std::move(EntryBuilder()
                                   .Str("kind", huge, kMaxKindBytes)
                                   .Str("namespace", huge, kMaxNamespaceBytes)
                                   .Str("name", huge, kMaxNameBytes)
                                   .Str("uid", huge, kMaxUidBytes)
                                   .Str("operation", "CREATE")))
      .Str("user", huge)
      .Str("digest", huge, kMaxClaimBytes)
      .Obj("artifact", std::move(EntryBuilder()
                                     .Str("iss", huge, kMaxClaimBytes)
                                     .Str("sub", huge, kMaxClaimBytes)
                                     .Str("kid", huge, kMaxClaimBytes)
                                     .Str("jti", huge, kMaxClaimBytes)
                                     .Str("digest", huge, kMaxClaimBytes)))
      .Str("parent", huge, kMaxClaimBytes)
      .Str("intent", huge)
      .Obj("replay", std::move(EntryBuilder().Str("op", "consume").Int("exp", INT64_MAX)))
      .Obj("policy", std::move(EntryBuilder()
                                   .Str("name", huge, kMaxNameBytes)
                                   .Int("generation", INT64_MAX)
                                   .Str("enforcement", "Enforce")));
  auto built = std::move(entry).Build();
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_LE(built->canonical().size(), kMaxEntryBytes);
  auto record = SpliceRecord(built->canonical(), UINT64_MAX, crypto::Hash{}, kTime);
  ASSERT_TRUE(record.ok());
  EXPECT_LE(record->size(), kMaxRecordBytes);
  EXPECT_LT(kMaxRecordBytes, size_t{64} * 1024);
  auto parsed = nlohmann::json::parse(*record);
  EXPECT_EQ(parsed["object"]["name"].get<std::string>().size(), kMaxNameBytes);
  EXPECT_NE(parsed["user"].get<std::string>().find("[truncated, 1048576 bytes]"), std::string::npos);
  RecordProperty("worst_case_record_bytes", static_cast<int>(record->size()));
}

TEST(Record, EntriesFromJsonAreBoundedToo) {
  // The operator's records (nlohmann objects): every string is cut to
  // kMaxStringBytes, and what is still too large is refused.
  nlohmann::json entry = {{"type", "execution"}, {"message", std::string(100000, 'm')},
                          {"object", {{"name", std::string(5000, 'n')}, {"list", {std::string(2000, 'l')}}}}};
  auto canonical = CanonicalEntry(entry);
  ASSERT_TRUE(canonical.ok()) << canonical.status().ToString();
  auto parsed = nlohmann::json::parse(*canonical);
  EXPECT_EQ(parsed["message"].get<std::string>().size(), kMaxStringBytes);
  EXPECT_NE(parsed["message"].get<std::string>().find("[truncated, 100000 bytes]"), std::string::npos);
  EXPECT_EQ(parsed["object"]["list"][0].get<std::string>().size(), kMaxStringBytes);
  nlohmann::json many = {{"type", "execution"}};
  for (int i = 0; i < 40; ++i) many["f" + std::to_string(i)] = std::string(1000, 'x');
  auto refused = CanonicalEntry(many);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("larger than the limit of 32768"), std::string::npos);
  EntryBuilder b;
  b.Str("type", "admission");
  for (int i = 0; i < 40; ++i) b.Str("f" + std::to_string(i), std::string(1000, 'x'));
  EXPECT_FALSE(std::move(b).Build().ok());
}
}  // namespace
}  // namespace execgov::ledger
