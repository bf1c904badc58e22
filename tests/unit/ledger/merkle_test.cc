// The Merkle tree against transparency-dev/merkle's vectors (../shared/testdata/merkle):
// every happy path verifies and every corrupted proof is refused; and proofs
// we generate verify for every index and size pair up to 64 leaves.
#include "ledger/merkle.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/file.h"
#include "crypto/encoding.h"
#include "crypto/json.h"

namespace execgov::ledger {
namespace {

namespace fs = std::filesystem;

std::string B64(const nlohmann::json& j) {
  if (j.is_null()) return "";
  auto raw = crypto::Base64Decode(j.get<std::string>());
  return raw ? *raw : "<not base64>";
}

std::vector<std::string> Proof(const nlohmann::json& j) {
  std::vector<std::string> out;
  if (j.is_array()) {
    for (const auto& p : j) out.push_back(B64(p));
  }
  return out;
}

std::vector<fs::path> VectorFiles(const std::string& kind) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(EXECGOV_TESTDATA) / "merkle" / kind)) {
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

nlohmann::json Load(const fs::path& p) {
  auto text = ReadFile(p.string());
  EXPECT_TRUE(text.ok()) << p;
  return nlohmann::json::parse(*text);
}

TEST(MerkleVectors, Inclusion) {
  auto files = VectorFiles("inclusion");
  ASSERT_GT(files.size(), 50u);
  int happy = 0, refused = 0;
  for (const auto& f : files) {
    auto v = Load(f);
    Status st = VerifyInclusion(v["leafIdx"].get<uint64_t>(), v["treeSize"].get<uint64_t>(), B64(v["leafHash"]),
                                Proof(v["proof"]), B64(v["root"]));
    if (v["wantErr"].get<bool>()) {
      EXPECT_FALSE(st.ok()) << f << ": " << v["desc"];
      ++refused;
    } else {
      EXPECT_TRUE(st.ok()) << f << ": " << st.ToString();
      ++happy;
    }
  }
  EXPECT_GT(happy, 0);
  EXPECT_GT(refused, 0);
}

TEST(MerkleVectors, Consistency) {
  auto files = VectorFiles("consistency");
  ASSERT_GT(files.size(), 50u);
  for (const auto& f : files) {
    auto v = Load(f);
    Status st = VerifyConsistency(v["size1"].get<uint64_t>(), v["size2"].get<uint64_t>(), Proof(v["proof"]),
                                  B64(v["root1"]), B64(v["root2"]));
    if (v["wantErr"].get<bool>()) {
      EXPECT_FALSE(st.ok()) << f << ": " << v["desc"];
    } else {
      EXPECT_TRUE(st.ok()) << f << ": " << st.ToString();
    }
  }
}

TEST(MerkleVectors, SubtreeInclusion) {
  auto files = VectorFiles("subtreeinclusion");
  ASSERT_GT(files.size(), 50u);
  for (const auto& f : files) {
    auto v = Load(f);
    uint64_t start = v.value("start", 0), idx = v["leafIdx"].get<uint64_t>();
    uint64_t end = v.contains("end") ? v["end"].get<uint64_t>() : v["treeSize"].get<uint64_t>();
    Status st = VerifySubtreeInclusion(idx, start, end, B64(v["leafHash"]), Proof(v["proof"]), B64(v["root"]));
    if (v["wantErr"].get<bool>()) {
      EXPECT_FALSE(st.ok()) << f << ": " << v["desc"];
    } else {
      EXPECT_TRUE(st.ok()) << f << ": " << st.ToString();
    }
  }
}

TEST(MerkleVectors, SubtreeConsistency) {
  auto files = VectorFiles("subtreeconsistency");
  ASSERT_GT(files.size(), 50u);
  for (const auto& f : files) {
    auto v = Load(f);
    Status st = VerifySubtreeConsistency(v["start"].get<uint64_t>(), v["end"].get<uint64_t>(),
                                         v["size"].get<uint64_t>(), Proof(v["proof"]), B64(v["root1"]),
                                         B64(v["root2"]));
    if (v["wantErr"].get<bool>()) {
      EXPECT_FALSE(st.ok()) << f << ": " << v["desc"];
    } else {
      EXPECT_TRUE(st.ok()) << f << ": " << st.ToString();
    }
  }
}

std::vector<Hash> Leaves(size_t n) {
  std::vector<Hash> leaves;
  for (size_t i = 0; i < n; ++i) leaves.push_back(LeafHash("leaf " + std::to_string(i)));
  return leaves;
}

std::vector<std::string> Raw(const std::vector<Hash>& hs) {
  std::vector<std::string> out;
  for (const auto& h : hs) out.emplace_back(crypto::HashBytes(h));
  return out;
}

TEST(Merkle, FrontierMatchesRootAtEverySize) {
  auto leaves = Leaves(70);
  MerkleFrontier f;
  EXPECT_EQ(f.Root(), EmptyRoot());
  for (size_t n = 1; n <= leaves.size(); ++n) {
    f.Append(leaves[n - 1]);
    ASSERT_EQ(f.Root(), RootOf({leaves.begin(), leaves.begin() + n})) << n;
    auto restored = MerkleFrontier::FromParts(f.size(), f.subtrees());
    ASSERT_TRUE(restored.ok());
    EXPECT_EQ(restored->Root(), f.Root());
  }
  EXPECT_FALSE(MerkleFrontier::FromParts(3, {leaves[0]}).ok());
}

TEST(Merkle, GeneratedProofsVerifyAndCorruptionsAreRefused) {
  auto leaves = Leaves(64);
  for (uint64_t size = 1; size <= 64; ++size) {
    Hash root = RootOf({leaves.begin(), leaves.begin() + size});
    for (uint64_t i = 0; i < size; ++i) {
      auto proof = Raw(InclusionProof(i, size, leaves));
      ASSERT_TRUE(VerifyInclusion(i, size, crypto::HashBytes(leaves[i]), proof, crypto::HashBytes(root)).ok())
          << i << "/" << size;
      if (!proof.empty()) {
        auto bad = proof;
        bad[0][5] ^= 1;
        EXPECT_FALSE(VerifyInclusion(i, size, crypto::HashBytes(leaves[i]), bad, crypto::HashBytes(root)).ok());
      }
      if (size > 1) {
        EXPECT_FALSE(
            VerifyInclusion((i + 1) % size, size, crypto::HashBytes(leaves[i]), proof, crypto::HashBytes(root)).ok());
      }
    }
    for (uint64_t m = 1; m <= size; ++m) {
      Hash old_root = RootOf({leaves.begin(), leaves.begin() + m});
      auto proof = Raw(ConsistencyProof(m, size, leaves));
      ASSERT_TRUE(VerifyConsistency(m, size, proof, crypto::HashBytes(old_root), crypto::HashBytes(root)).ok())
          << m << "->" << size;
      if (m < size) {
        EXPECT_FALSE(VerifyConsistency(m, size, proof, crypto::HashBytes(root), crypto::HashBytes(root)).ok());
      }
    }
  }
}

TEST(Merkle, WrongLengthHashesAreRefused) {
  auto leaves = Leaves(4);
  auto proof = Raw(InclusionProof(1, 4, leaves));
  std::string root(crypto::HashBytes(RootOf(leaves)));
  proof[0].pop_back();
  EXPECT_FALSE(VerifyInclusion(1, 4, crypto::HashBytes(leaves[1]), proof, root).ok());
  EXPECT_FALSE(VerifyInclusion(1, 4, "short", Raw(InclusionProof(1, 4, leaves)), root).ok());
}

// Trees near 2^64 leaves, whose sizes a proof's sender chooses: the subtree
// and path arithmetic must neither overflow (bit_ceil(2^63 + 1), a shift by
// 64) nor wrap (start + m, size + m - 1). The proofs are built by hand along
// the right border, where a node is Node(left sibling, what is below).
constexpr uint64_t kTwo63 = uint64_t{1} << 63;

Hash Parent(const Hash& left, const Hash& right) { return RootOf({left, right}); }

TEST(MerkleLimits, SubtreesWiderThanTwoToThe63) {
  // bit_ceil(2^63 + 1) is 2^64: only start 0 is aligned to it.
  EXPECT_EQ(VerifySubtreeInclusion(1, 1, kTwo63 + 2, "", {}, "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifySubtreeInclusion(kTwo63, kTwo63 / 2, kTwo63 + kTwo63 / 2 + 1, "", {}, "").code(),
            StatusCode::kInvalidArgument);
  // Valid ranges get as far as the proof, which is wrong (PermissionDenied).
  std::string h(32, 'h');
  EXPECT_EQ(VerifySubtreeInclusion(5, 0, kTwo63 + 2, h, {}, h).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(VerifySubtreeInclusion(kTwo63, kTwo63, UINT64_MAX, h, {}, h).code(), StatusCode::kPermissionDenied);
}

TEST(MerkleLimits, InclusionWhereThePathLeavesTheBorderAtTheRoot) {
  // Leaf 0 of 2^63 + 1 leaves: 63 siblings in the perfect left half, then the
  // lone right leaf; 64 hashes, none along the border.
  auto sib = Leaves(64);
  Hash leaf = LeafHash("the leaf");
  Hash h = leaf;
  for (const auto& s : sib) h = Parent(h, s);
  auto proof = Raw(sib);
  std::string root(crypto::HashBytes(h));
  EXPECT_TRUE(VerifyInclusion(0, kTwo63 + 1, crypto::HashBytes(leaf), proof, root).ok());
  auto bad = proof;
  bad[63][0] ^= 1;
  EXPECT_EQ(VerifyInclusion(0, kTwo63 + 1, crypto::HashBytes(leaf), bad, root).code(), StatusCode::kPermissionDenied);
  proof.pop_back();
  EXPECT_EQ(VerifyInclusion(0, kTwo63 + 1, crypto::HashBytes(leaf), proof, root).code(), StatusCode::kPermissionDenied);
}

TEST(MerkleLimits, SubtreeConsistencyInTheLastNodeBelowTwoToThe64) {
  // Subtree [2^64 - 8, 2^64 - 3) of a tree of 2^64 - 1 leaves: its node
  // [2^64 - 8, 2^64) holds 7 leaves, and is the last of 2^61 nodes, whose
  // path is 61 left siblings along the border.
  const uint64_t start = UINT64_MAX - 7, end = UINT64_MAX - 2, size = UINT64_MAX;
  auto leaves = Leaves(7);
  Hash subtree = RootOf({leaves.begin(), leaves.begin() + 5});
  auto proof = Raw(ConsistencyProof(5, 7, leaves));
  Hash h = RootOf(leaves);
  auto sib = Leaves(61);
  for (const auto& s : sib) h = Parent(s, h);
  for (const auto& s : Raw(sib)) proof.push_back(s);
  std::string root(crypto::HashBytes(h));
  Status st = VerifySubtreeConsistency(start, end, size, proof, crypto::HashBytes(subtree), root);
  EXPECT_TRUE(st.ok()) << st.ToString();
  auto bad = proof;
  bad.back()[0] ^= 1;
  EXPECT_FALSE(VerifySubtreeConsistency(start, end, size, bad, crypto::HashBytes(subtree), root).ok());
  bad = proof;
  bad[0][0] ^= 1;
  EXPECT_FALSE(VerifySubtreeConsistency(start, end, size, bad, crypto::HashBytes(subtree), root).ok());
}

}  // namespace
}  // namespace execgov::ledger
