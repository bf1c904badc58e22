// The ledger as C2SP tlog-tiles (ledger/tiles.h): strict path parsing, tile
// contents against hashes computed here from the stored lines, widths and
// bounds, refreshing as the ledger grows, refusing a ledger that no longer
// extends what was served, and the exported layout.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ledger/tiles.h"
#include "tamper_cases.h"

namespace execgov::ledger {
namespace {

namespace fs = std::filesystem;
using testing::Entry;

TEST(TilePathTest, ParsesCanonicalPaths) {
  struct Case {
    const char* path;
    TileRef want;
  } cases[] = {
      {"checkpoint", {TileRef::Kind::kCheckpoint, 0, 0, 256}},
      {"/checkpoint", {TileRef::Kind::kCheckpoint, 0, 0, 256}},
      {"tile/0/000", {TileRef::Kind::kHashes, 0, 0, 256}},
      {"/tile/0/x001/234.p/5", {TileRef::Kind::kHashes, 0, 1234, 5}},
      {"tile/63/999", {TileRef::Kind::kHashes, 63, 999, 256}},
      {"tile/entries/x001/x234/067", {TileRef::Kind::kEntries, 0, 1234067, 256}},
      {"tile/entries/000.p/255", {TileRef::Kind::kEntries, 0, 0, 255}},
      {"tile/2/x072/x057/x594/x037/x927/935", {TileRef::Kind::kHashes, 2, (uint64_t{1} << 56) - 1, 256}},
  };
  for (const auto& c : cases) {
    auto ref = ParseTilePath(c.path);
    ASSERT_TRUE(ref.ok()) << c.path << ": " << ref.status().message();
    EXPECT_EQ(*ref, c.want) << c.path;
    std::string canonical = c.path[0] == '/' ? c.path + 1 : c.path;
    EXPECT_EQ(TilePathOf(*ref), canonical);
  }
}

TEST(TilePathTest, RefusesEverythingElse) {
  for (const char* path :
       {"", "/", "tile", "tile/", "tile/0", "tile/0/", "tile/0/00", "tile/0/0000", "tile/0/x000/001", "tile/0/x01/234",
        "tile/0/001/234", "tile/0/x001", "tile/0/000/", "tile/0//000", "tile/0/000.p", "tile/0/000.p/", "tile/0/000.p/0",
        "tile/0/000.p/256", "tile/0/000.p/007", "tile/0/000.p/5/", "tile/0/000.x/5", "tile/64/000", "tile/01/000",
        "tile/-1/000", "tile/entries", "tile/entries/", "tile/data/000", "tile/0/../000", "tile/0/./000",
        "tile/0/%30%30%30", "tile/0/000?x", "checkpoint/", "checkpoints", "../checkpoint", "tile/0/abc",
        "tile/2/x072/x057/x594/x037/x927/936", "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
        "tile/0/x001/x001/x001/x001/x001/x001/x001/x001/x001/001"}) {
    EXPECT_FALSE(ParseTilePath(path).ok()) << path;
  }
  EXPECT_FALSE(ParseTilePath("tile/0/" + std::string(200, '0')).ok());
}

TEST(TilePathTest, BundleEntriesAreLengthPrefixed) {
  std::string bundle;
  ASSERT_TRUE(AppendBundleEntry(&bundle, "ab").ok());
  ASSERT_TRUE(AppendBundleEntry(&bundle, std::string(300, 'x')).ok());
  EXPECT_EQ(bundle.substr(0, 4), std::string("\0\2ab", 4));
  EXPECT_EQ(bundle.substr(4, 2), std::string("\x01\x2c", 2));
  EXPECT_EQ(bundle.size(), 4u + 2 + 300);
  EXPECT_FALSE(AppendBundleEntry(&bundle, std::string(65536, 'x')).ok());
}

class TileLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("execgov-tiles-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "ledger.jsonl").string();
    url_ = "file:" + path_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Appends n entries; a checkpoint every `every` records and on close.
  void Append(int n, uint64_t every = 1000) {
    LedgerOptions o;
    o.checkpoint_every_records = every;
    o.clock = &clock_;
    auto ledger = OpenLedger(url_, o);
    ASSERT_TRUE(ledger.ok()) << ledger.status().message();
    for (int i = 0; i < n; ++i) ASSERT_TRUE((*ledger)->Append(Entry(i)).ok());
    ASSERT_TRUE((*ledger)->Close().ok());
  }
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
  crypto::PublicKey Public() { return *crypto::PublicKey::FromPem(*ReadFile(path_ + ".key.pub")); }
  std::unique_ptr<Backend> Open() {
    auto b = OpenBackend(url_, BackendOptions{.read_only = true});
    EXPECT_TRUE(b.ok()) << b.status().message();
    return std::move(b).value();
  }

  fs::path dir_;
  std::string path_, url_;
  FakeClock clock_{1790000000};
};

std::string Hashes(const std::vector<Hash>& hs) {
  std::string out;
  for (const auto& h : hs) out += crypto::HashBytes(h);
  return out;
}

TEST_F(TileLogTest, ServesTheTreeOfTheLatestCheckpoint) {
  Append(600, 300);  // checkpoints at seq 300 and 601 (on close): 602 records
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 602u);
  std::vector<Hash> leaves;
  for (const auto& l : lines) leaves.push_back(LeafHash(l));

  auto backend = Open();
  TileLog tiles(backend.get(), TileLogOptions{Public()});
  ASSERT_TRUE(tiles.Refresh().ok());
  ASSERT_TRUE(tiles.Published());
  EXPECT_EQ(tiles.Published()->size, 601u);
  EXPECT_EQ(tiles.Published()->root, RootOf({leaves.begin(), leaves.begin() + 601}));

  auto cp = tiles.Serve("/checkpoint");
  EXPECT_EQ(cp.status, 200);
  EXPECT_EQ(cp.body, testing::NoteOf(lines[601]));
  EXPECT_FALSE(cp.immutable);

  auto t0 = tiles.Serve("/tile/0/000");
  EXPECT_EQ(t0.status, 200);
  EXPECT_TRUE(t0.immutable);
  EXPECT_EQ(t0.body, Hashes({leaves.begin(), leaves.begin() + 256}));
  // The last level-0 tile has 601 - 512 = 89 hashes; any prefix of it is served.
  EXPECT_EQ(tiles.Serve("tile/0/002.p/89").body, Hashes({leaves.begin() + 512, leaves.begin() + 601}));
  EXPECT_EQ(tiles.Serve("tile/0/002.p/3").body, Hashes({leaves.begin() + 512, leaves.begin() + 515}));
  EXPECT_EQ(tiles.Serve("tile/0/001.p/3").body, Hashes({leaves.begin() + 256, leaves.begin() + 259}));
  EXPECT_EQ(tiles.Serve("tile/0/002.p/90").status, 404);  // record 601 is past the checkpoint
  EXPECT_EQ(tiles.Serve("tile/0/002").status, 404);
  EXPECT_EQ(tiles.Serve("tile/0/003.p/1").status, 404);
  // Level 1: the roots of the two complete 256-leaf subtrees.
  EXPECT_EQ(tiles.Serve("tile/1/000.p/2").body,
            Hashes({RootOf({leaves.begin(), leaves.begin() + 256}), RootOf({leaves.begin() + 256, leaves.begin() + 512})}));
  EXPECT_EQ(tiles.Serve("tile/1/000.p/3").status, 404);
  EXPECT_EQ(tiles.Serve("tile/2/000.p/1").status, 404);

  auto bundle = tiles.Serve("tile/entries/002.p/89");
  ASSERT_EQ(bundle.status, 200);
  std::string want;
  for (size_t i = 512; i < 601; ++i) ASSERT_TRUE(AppendBundleEntry(&want, lines[i]).ok());
  EXPECT_EQ(bundle.body, want);
  EXPECT_EQ(tiles.Serve("tile/entries/002.p/90").status, 404);

  EXPECT_EQ(tiles.Serve("tile/0/x000/000").status, 400);
  EXPECT_EQ(tiles.Serve("/etc/passwd").status, 404);
  EXPECT_EQ(tiles.Serve("/tile/0/000?cache=1").status, 200);  // a query is ignored
}

TEST_F(TileLogTest, NothingBeforeTheFirstCheckpointAndGrowsWithTheLedger) {
  Append(10, 1000);  // one checkpoint, on close: size 10
  auto backend = Open();
  TileLog tiles(backend.get(), TileLogOptions{Public()});
  ASSERT_TRUE(tiles.Refresh().ok());
  EXPECT_EQ(tiles.Published()->size, 10u);
  std::string sealed_before = tiles.Serve("tile/0/000.p/10").body;
  Append(500, 1000);  // 11 + 500 records + a checkpoint for 511
  ASSERT_TRUE(tiles.Refresh().ok());
  EXPECT_EQ(tiles.Published()->size, 511u);
  EXPECT_EQ(tiles.Serve("tile/0/000").body.substr(0, sealed_before.size()), sealed_before);
  EXPECT_EQ(tiles.Serve("tile/0/001.p/255").status, 200);
  // A refresh with nothing new changes nothing.
  ASSERT_TRUE(tiles.Refresh().ok());
  EXPECT_EQ(tiles.Published()->size, 511u);
}

TEST_F(TileLogTest, NoCheckpointNoTiles) {
  // A ledger whose only records precede any checkpoint: write 3 and cut the close checkpoint.
  Append(3, 1000);
  auto lines = Lines();
  lines.pop_back();
  WriteLines(lines);
  auto backend = Open();
  TileLog tiles(backend.get(), TileLogOptions{});
  ASSERT_TRUE(tiles.Refresh().ok());
  EXPECT_FALSE(tiles.Published());
  EXPECT_EQ(tiles.Serve("checkpoint").status, 404);
  EXPECT_EQ(tiles.Serve("tile/0/000.p/1").status, 404);
  EXPECT_FALSE(tiles.Export((dir_ / "out").string()).ok());
}

TEST_F(TileLogTest, ALedgerThatStopsExtendingWhatWasServedIsRefused) {
  Append(300, 1000);  // size 300, 301 records
  auto backend = Open();
  TileLog tiles(backend.get(), TileLogOptions{Public()});
  ASSERT_TRUE(tiles.Refresh().ok());
  std::string note = tiles.Serve("checkpoint").body;
  std::string tile = tiles.Serve("tile/0/000").body;
  auto lines = Lines();

  // Rolled back: fewer records than were read.
  WriteLines({lines.begin(), lines.begin() + 200});
  Status st = tiles.Refresh();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.message();
  EXPECT_NE(st.message().find("truncated or rolled back"), std::string::npos);
  // What was published stays, unchanged.
  EXPECT_EQ(tiles.Serve("checkpoint").body, note);
  EXPECT_EQ(tiles.Serve("tile/0/000").body, tile);
  // Its entries cannot be read any more: an error, never other bytes.
  EXPECT_EQ(tiles.Serve("tile/entries/000").status, 500);

  // Rewritten at the same size: an early record changed is found when its
  // entries are read; the last one changed, at the next refresh.
  auto changed = lines;
  changed[5] = testing::Resign(changed[5], "x");  // any other bytes
  WriteLines(changed);
  EXPECT_EQ(tiles.Serve("tile/entries/000").status, 500);
  changed.back() = testing::Resign(changed.back(), "x");
  WriteLines(changed);
  st = tiles.Refresh();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.message();
  EXPECT_EQ(tiles.Serve("checkpoint").body, note);
}

TEST_F(TileLogTest, ACheckpointThatIsNotForItsRecordsIsNotPublished) {
  Append(20, 10);  // checkpoints at seq 10 and 21
  auto lines = Lines();
  // The last checkpoint re-signed for another root by another key: refused either way.
  auto other = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  ASSERT_TRUE(other.ok());
  Checkpoint forged = *ParseCheckpoint(testing::NoteOf(lines[21]));
  forged.root[0] ^= 1;
  lines[21] = testing::Resign(lines[21], *SignCheckpoint(forged, *other));
  WriteLines(lines);
  auto backend = Open();
  TileLog tiles(backend.get(), TileLogOptions{});
  Status st = tiles.Refresh();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.message();
  ASSERT_TRUE(tiles.Published());
  EXPECT_EQ(tiles.Published()->size, 10u);  // the one before stays published

  // A root that matches but a signature by another key: refused with the key.
  Checkpoint same = *ParseCheckpoint(testing::NoteOf(Lines()[10]));
  auto relines = Lines();
  relines[10] = testing::Resign(relines[10], *SignCheckpoint(same, *other));
  WriteLines({relines.begin(), relines.begin() + 11});
  auto backend2 = Open();
  TileLog keyed(backend2.get(), TileLogOptions{Public()});
  EXPECT_EQ(keyed.Refresh().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(keyed.Published());
}

TEST_F(TileLogTest, ExportWritesTheLayoutAndNeverRewritesASealedTile) {
  Append(600, 1000);  // size 600
  auto backend = Open();
  TileLog tiles(backend.get(), TileLogOptions{Public()});
  ASSERT_TRUE(tiles.Refresh().ok());
  fs::path out = dir_ / "tiles";
  ASSERT_TRUE(tiles.Export(out.string()).ok());
  for (const char* p : {"checkpoint", "tile/0/000", "tile/0/001", "tile/0/002.p/88", "tile/1/000.p/2",
                        "tile/entries/000", "tile/entries/001", "tile/entries/002.p/88"}) {
    auto want = tiles.Serve(p);
    auto got = ReadFile((out / p).string());
    ASSERT_TRUE(got.ok()) << p;
    EXPECT_EQ(*got, want.body) << p;
  }
  EXPECT_FALSE(fs::exists(out / "tile/0/002"));
  // Again after growth: the sealed tiles are the same, the new ones added.
  Append(200, 1000);  // size 801: tile 2 is full
  ASSERT_TRUE(tiles.Refresh().ok());
  ASSERT_TRUE(tiles.Export(out.string()).ok());
  EXPECT_TRUE(fs::exists(out / "tile/0/002"));
  EXPECT_EQ(*ReadFile((out / "checkpoint").string()), tiles.Serve("checkpoint").body);
  // Another log's directory: a sealed tile that differs is refused, not overwritten.
  ASSERT_TRUE(WriteFileAtomic((out / "tile/0/001").string(), std::string(8192, 'x'), 0644).ok());
  Status st = tiles.Export(out.string());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.message();
  EXPECT_EQ(ReadFile((out / "tile/0/001").string())->substr(0, 4), "xxxx");
}

}  // namespace
}  // namespace execgov::ledger
