#include "ledger/merkle.h"

#include <openssl/evp.h>

#include <bit>
#include <cstring>

namespace execgov::ledger {
namespace {

// SHA-256 with the algorithm fetched once and a context reused per thread:
// OpenSSL 3's one-shot SHA256() fetches the implementation on every call,
// which costs more than hashing a record. Verifying a million records is
// bound by these two functions.
class Hasher {
 public:
  Hasher() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {}
  ~Hasher() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  Hash Digest(uint8_t prefix, std::string_view a, std::string_view b = {}) {
    Hash h;
    EVP_DigestInit_ex(ctx_, md_, nullptr);
    EVP_DigestUpdate(ctx_, &prefix, 1);
    EVP_DigestUpdate(ctx_, a.data(), a.size());
    if (!b.empty()) EVP_DigestUpdate(ctx_, b.data(), b.size());
    EVP_DigestFinal_ex(ctx_, h.data(), nullptr);
    return h;
  }
  static Hasher& ForThread() {
    thread_local Hasher hasher;
    return hasher;
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

Hash Node(const Hash& l, const Hash& r) {
  return Hasher::ForThread().Digest(0x01, crypto::HashBytes(l), crypto::HashBytes(r));
}

// Largest power of two strictly below n (n >= 2): RFC 9162's split point k.
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

Hash RangeRoot(const std::vector<Hash>& leaves, uint64_t begin, uint64_t end) {
  if (end - begin == 1) return leaves[begin];
  uint64_t k = SplitPoint(end - begin);
  return Node(RangeRoot(leaves, begin, begin + k), RangeRoot(leaves, begin + k, end));
}

void Path(uint64_t m, const std::vector<Hash>& leaves, uint64_t begin, uint64_t end, std::vector<Hash>* out) {
  uint64_t n = end - begin;
  if (n == 1) return;
  uint64_t k = SplitPoint(n);
  if (m < k) {
    Path(m, leaves, begin, begin + k, out);
    out->push_back(RangeRoot(leaves, begin + k, end));
  } else {
    Path(m - k, leaves, begin + k, end, out);
    out->push_back(RangeRoot(leaves, begin, begin + k));
  }
}

void SubProof(uint64_t m, const std::vector<Hash>& leaves, uint64_t begin, uint64_t end, bool whole,
              std::vector<Hash>* out) {
  uint64_t n = end - begin;
  if (m == n) {
    if (!whole) out->push_back(RangeRoot(leaves, begin, end));
    return;
  }
  uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubProof(m, leaves, begin, begin + k, whole, out);
    out->push_back(RangeRoot(leaves, begin + k, end));
  } else {
    SubProof(m - k, leaves, begin + k, end, false, out);
    out->push_back(RangeRoot(leaves, begin, begin + k));
  }
}

// Chains proof[from, to) with the seed on the side given by `index`'s bits
// (transparency-dev's chainInner / chainInnerRight / chainBorderRight).
Hash ChainInner(Hash seed, const std::vector<Hash>& proof, size_t from, size_t to, uint64_t index) {
  for (size_t i = from; i < to; ++i) {
    seed = ((index >> (i - from)) & 1) == 0 ? Node(seed, proof[i]) : Node(proof[i], seed);
  }
  return seed;
}
Hash ChainInnerRight(Hash seed, const std::vector<Hash>& proof, size_t from, size_t to, uint64_t index) {
  for (size_t i = from; i < to; ++i) {
    if (((index >> (i - from)) & 1) == 1) seed = Node(proof[i], seed);
  }
  return seed;
}
Hash ChainBorderRight(Hash seed, const std::vector<Hash>& proof, size_t from) {
  for (size_t i = from; i < proof.size(); ++i) seed = Node(proof[i], seed);
  return seed;
}

// Splits the inclusion proof of `index` in a tree of `size` into the part
// below the point where its path leaves the right border and the part along it.
void Decompose(uint64_t index, uint64_t size, size_t* inner, size_t* border) {
  *inner = static_cast<size_t>(std::bit_width(index ^ (size - 1)));
  // inner is 64 when the path leaves the border at the root (size > 2^63);
  // a shift by 64 is undefined, and no bits are left above it anyway.
  *border = *inner >= 64 ? 0 : static_cast<size_t>(std::popcount(index >> *inner));
}

StatusOr<Hash> ToHash(std::string_view bytes, const char* what) {
  if (bytes.size() != 32) {
    return PermissionDenied(std::string(what) + " is " + std::to_string(bytes.size()) + " bytes, not 32");
  }
  Hash h;
  std::memcpy(h.data(), bytes.data(), 32);
  return h;
}

StatusOr<std::vector<Hash>> ToHashes(const std::vector<std::string>& proof) {
  std::vector<Hash> out;
  out.reserve(proof.size());
  for (const auto& p : proof) {
    EXECGOV_ASSIGN_OR_RETURN(Hash h, ToHash(p, "a proof hash"));
    out.push_back(h);
  }
  return out;
}

Status Match(const Hash& computed, std::string_view expected, const char* what) {
  if (crypto::HashBytes(computed) != expected) return PermissionDenied(std::string(what) + " does not match");
  return Status::Ok();
}

}  // namespace

Hash LeafHash(std::string_view bytes) { return Hasher::ForThread().Digest(0x00, bytes); }
Hash EmptyRoot() { return crypto::Sha256(""); }

StatusOr<MerkleFrontier> MerkleFrontier::FromParts(uint64_t size, std::vector<Hash> subtrees) {
  if (subtrees.size() != static_cast<size_t>(std::popcount(size))) {
    return InvalidArgument("a Merkle frontier of size " + std::to_string(size) + " needs " +
                           std::to_string(std::popcount(size)) + " subtree hashes, not " +
                           std::to_string(subtrees.size()));
  }
  MerkleFrontier f;
  f.size_ = size;
  f.subtrees_ = std::move(subtrees);
  return f;
}

void MerkleFrontier::Append(const Hash& leaf) {
  Hash h = leaf;
  for (uint64_t s = size_; s & 1; s >>= 1) {
    h = Node(subtrees_.back(), h);
    subtrees_.pop_back();
  }
  subtrees_.push_back(h);
  ++size_;
}

Hash MerkleFrontier::Root() const {
  if (subtrees_.empty()) return EmptyRoot();
  Hash h = subtrees_.back();
  for (size_t i = subtrees_.size() - 1; i-- > 0;) h = Node(subtrees_[i], h);
  return h;
}

Hash RootOf(const std::vector<Hash>& leaves) {
  if (leaves.empty()) return EmptyRoot();
  return RangeRoot(leaves, 0, leaves.size());
}

std::vector<Hash> InclusionProof(uint64_t index, uint64_t size, const std::vector<Hash>& leaves) {
  std::vector<Hash> out;
  Path(index, leaves, 0, size, &out);
  return out;
}

std::vector<Hash> ConsistencyProof(uint64_t size1, uint64_t size2, const std::vector<Hash>& leaves) {
  std::vector<Hash> out;
  SubProof(size1, leaves, 0, size2, true, &out);
  return out;
}

namespace {

// The root the proof hashes[from, to) leads to from `leaf` at `index`.
StatusOr<Hash> RootFromInclusion(uint64_t index, uint64_t size, const Hash& leaf, const std::vector<Hash>& hashes,
                                 size_t from, size_t to) {
  if (index >= size) {
    return InvalidArgument("index " + std::to_string(index) + " is not below the tree size " + std::to_string(size));
  }
  size_t inner, border;
  Decompose(index, size, &inner, &border);
  if (to - from != inner + border) {
    return PermissionDenied("the inclusion proof has " + std::to_string(to - from) + " hashes, a tree of size " +
                            std::to_string(size) + " needs " + std::to_string(inner + border));
  }
  std::vector<Hash> part(hashes.begin() + static_cast<ptrdiff_t>(from), hashes.begin() + static_cast<ptrdiff_t>(to));
  Hash h = ChainInner(leaf, part, 0, inner, index);
  return ChainBorderRight(h, part, inner);
}

// The number of hashes a consistency proof from size1 to size2 has
// (0 < size1 < size2).
size_t ConsistencyProofLength(uint64_t size1, uint64_t size2) {
  size_t inner, border;
  Decompose(size1 - 1, size2, &inner, &border);
  size_t shift = static_cast<size_t>(std::countr_zero(size1));
  return (size1 == (uint64_t{1} << shift) ? 0 : 1) + inner - shift + border;
}

// Checks hashes[from, to) against root1 and returns the new root
// (0 < size1 < size2).
StatusOr<Hash> RootFromConsistency(uint64_t size1, uint64_t size2, const Hash& root1, const std::vector<Hash>& all,
                                   size_t from, size_t to) {
  if (to == from) return PermissionDenied("the consistency proof is empty");
  std::vector<Hash> hashes(all.begin() + static_cast<ptrdiff_t>(from), all.begin() + static_cast<ptrdiff_t>(to));
  size_t inner, border;
  Decompose(size1 - 1, size2, &inner, &border);
  size_t shift = static_cast<size_t>(std::countr_zero(size1));
  inner -= shift;
  // The proof starts with the root of the subtree of size 2^shift, unless
  // size1 is exactly that subtree, whose root the verifier already has.
  size_t start = 1;
  Hash seed = hashes[0];
  if (size1 == (uint64_t{1} << shift)) {
    seed = root1;
    start = 0;
  }
  if (hashes.size() != start + inner + border) {
    return PermissionDenied("the consistency proof has " + std::to_string(hashes.size()) + " hashes, " +
                            std::to_string(start + inner + border) + " are needed");
  }
  uint64_t mask = (size1 - 1) >> shift;
  Hash h1 = ChainInnerRight(seed, hashes, start, start + inner, mask);
  h1 = ChainBorderRight(h1, hashes, start + inner);
  if (h1 != root1) return PermissionDenied("the old root computed from the consistency proof does not match");
  Hash h2 = ChainInner(seed, hashes, start, start + inner, mask);
  return ChainBorderRight(h2, hashes, start + inner);
}

}  // namespace

Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                       const std::vector<std::string>& proof, std::string_view root) {
  if (index >= size) {
    return InvalidArgument("index " + std::to_string(index) + " is not below the tree size " + std::to_string(size));
  }
  EXECGOV_ASSIGN_OR_RETURN(Hash leaf, ToHash(leaf_hash, "the leaf hash"));
  EXECGOV_ASSIGN_OR_RETURN(auto hashes, ToHashes(proof));
  EXECGOV_ASSIGN_OR_RETURN(Hash h, RootFromInclusion(index, size, leaf, hashes, 0, hashes.size()));
  return Match(h, root, "the root computed from the inclusion proof");
}

Status VerifyConsistency(uint64_t size1, uint64_t size2, const std::vector<std::string>& proof,
                         std::string_view root1, std::string_view root2) {
  if (size2 < size1) {
    return InvalidArgument("size1 " + std::to_string(size1) + " is larger than size2 " + std::to_string(size2));
  }
  if (size1 == 0) return InvalidArgument("a consistency proof from the empty tree proves nothing");
  if (size1 == size2) {
    if (!proof.empty()) return PermissionDenied("equal tree sizes need an empty consistency proof");
    if (root1 != root2) return PermissionDenied("two trees of the same size have different roots");
    return Status::Ok();
  }
  EXECGOV_ASSIGN_OR_RETURN(auto hashes, ToHashes(proof));
  EXECGOV_ASSIGN_OR_RETURN(Hash r1, ToHash(root1, "root1"));
  EXECGOV_ASSIGN_OR_RETURN(Hash h2, RootFromConsistency(size1, size2, r1, hashes, 0, hashes.size()));
  return Match(h2, root2, "the new root computed from the consistency proof");
}

namespace {

// log2 of bit_ceil(width) for width >= 1, from 0 to 64. Not bit_ceil itself:
// for a width above 2^63 (start and end come from the proof's sender)
// bit_ceil's result, 2^64, does not fit in 64 bits and is undefined.
int SubtreeLevel(uint64_t width) { return std::bit_width(width - 1); }

// A valid subtree's start is a multiple of 2^SubtreeLevel(end - start); at
// level 64 that means start = 0.
Status CheckSubtree(uint64_t start, uint64_t end) {
  if (start >= end) return InvalidArgument("a subtree needs start < end");
  int level = SubtreeLevel(end - start);
  if (start != 0 && std::countr_zero(start) < level) {
    return InvalidArgument("[" + std::to_string(start) + ", " + std::to_string(end) + ") is not a valid subtree");
  }
  return Status::Ok();
}

}  // namespace

Status VerifySubtreeInclusion(uint64_t index, uint64_t start, uint64_t end, std::string_view leaf_hash,
                              const std::vector<std::string>& proof, std::string_view subtree_root) {
  EXECGOV_RETURN_IF_ERROR(CheckSubtree(start, end));
  if (index < start || index >= end) return InvalidArgument("the leaf is outside the subtree");
  return VerifyInclusion(index - start, end - start, leaf_hash, proof, subtree_root);
}

Status VerifySubtreeConsistency(uint64_t start, uint64_t end, uint64_t size, const std::vector<std::string>& proof,
                                std::string_view subtree_root, std::string_view root) {
  if (start == end) {
    if (end > size) return InvalidArgument("the subtree ends past the tree");
    if (!proof.empty()) return PermissionDenied("an empty subtree needs an empty proof");
    return Match(EmptyRoot(), subtree_root, "the empty subtree's hash");
  }
  EXECGOV_RETURN_IF_ERROR(CheckSubtree(start, end));
  if (end > size) return InvalidArgument("the subtree ends past the tree");
  if (start == 0) return VerifyConsistency(end, size, proof, subtree_root, root);
  EXECGOV_ASSIGN_OR_RETURN(auto hashes, ToHashes(proof));
  EXECGOV_ASSIGN_OR_RETURN(Hash seed, ToHash(subtree_root, "the subtree hash"));
  // The node holding the subtree spans [start, start + m), cut at `size`.
  // start > 0 is a multiple of m (CheckSubtree), so m <= 2^63; start + m may
  // still be 2^64, hence no sum here (size - start >= end - start > 0).
  uint64_t m = uint64_t{1} << SubtreeLevel(end - start);
  uint64_t node_size = std::min(m, size - start);
  size_t used = 0;
  if (node_size > end - start) {
    used = ConsistencyProofLength(end - start, node_size);
    if (used > hashes.size()) return PermissionDenied("the subtree consistency proof is too short");
    EXECGOV_ASSIGN_OR_RETURN(seed, RootFromConsistency(end - start, node_size, seed, hashes, 0, used));
  }
  // Seen at the node's level, the tree is an RFC 9162 tree of ceil(size / m) nodes.
  uint64_t nodes = size / m + (size % m != 0 ? 1 : 0);  // not (size + m - 1) / m, which wraps near 2^64
  EXECGOV_ASSIGN_OR_RETURN(Hash h, RootFromInclusion(start / m, nodes, seed, hashes, used, hashes.size()));
  return Match(h, root, "the root computed from the subtree consistency proof");
}

}  // namespace execgov::ledger
