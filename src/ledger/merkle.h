// The RFC 9162 (Certificate Transparency 2.0) Merkle tree over ledger record
// hashes: leaf and node hashing, a compact "frontier" that folds leaves in
// constant memory per level, and inclusion and consistency proofs.
//
// The verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 in the decomposed form
// used by transparency-dev/merkle, so a proof of the wrong length, a hash of
// the wrong size or a root that does not match is refused, never "repaired".
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "crypto/sha256.h"

namespace execgov::ledger {

using crypto::Hash;

// SHA-256(0x00 || bytes): the hash of one record.
Hash LeafHash(std::string_view bytes);
// SHA-256 of the empty string: the root of a tree of size 0.
Hash EmptyRoot();

// The roots of the perfect subtrees that make up a tree of `size` leaves
// (one per set bit of size, largest first). Appending is amortized O(1);
// the root is O(log size). This is all a writer or a streaming verifier
// needs to know about the leaves before it.
class MerkleFrontier {
 public:
  MerkleFrontier() = default;
  // Restores a frontier from its parts; InvalidArgument if `subtrees` does not
  // have one hash per set bit of `size`.
  static StatusOr<MerkleFrontier> FromParts(uint64_t size, std::vector<Hash> subtrees);

  void Append(const Hash& leaf);
  Hash Root() const;
  uint64_t size() const { return size_; }
  const std::vector<Hash>& subtrees() const { return subtrees_; }

 private:
  uint64_t size_ = 0;
  std::vector<Hash> subtrees_;  // largest (leftmost) first
};

// A set of record hashes (for Contains): the hash is already uniform, so
// its first word is the bucket key.
struct HashBucket {
  size_t operator()(const Hash& h) const {
    size_t v;
    std::memcpy(&v, h.data(), sizeof v);
    return v;
  }
};
using HashIndex = std::unordered_set<Hash, HashBucket>;

// Root of the tree over all of `leaves` (MTH in RFC 9162 §2.1.1).
Hash RootOf(const std::vector<Hash>& leaves);

// The audit path of leaf `index` in the tree over the first `size` of
// `leaves` (PATH in RFC 9162 §2.1.3.1), lowest level first. Requires
// index < size <= leaves.size().
std::vector<Hash> InclusionProof(uint64_t index, uint64_t size, const std::vector<Hash>& leaves);
// The consistency proof between the trees over the first `size1` and `size2`
// of `leaves` (PROOF in RFC 9162 §2.1.4.1). Requires 0 < size1 <= size2.
std::vector<Hash> ConsistencyProof(uint64_t size1, uint64_t size2, const std::vector<Hash>& leaves);

// Proof entries come as raw bytes so that entries of the wrong length, as an
// attacker may send, are refused rather than truncated. OK or PermissionDenied
// (InvalidArgument for impossible sizes) naming what did not match.
Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                       const std::vector<std::string>& proof, std::string_view root);
Status VerifyConsistency(uint64_t size1, uint64_t size2, const std::vector<std::string>& proof,
                         std::string_view root1, std::string_view root2);

// Subtree proofs (the [start, end) ranges of draft-ietf-plants-merkle-tree-certs,
// in transparency-dev/merkle's vectors): a subtree is valid when start < end
// and start is a multiple of bit_ceil(end - start); its hash is the Merkle
// root of leaves start..end-1.
//
// A leaf of a subtree: the RFC 9162 proof of index - start in a tree of
// end - start leaves.
Status VerifySubtreeInclusion(uint64_t index, uint64_t start, uint64_t end, std::string_view leaf_hash,
                              const std::vector<std::string>& proof, std::string_view subtree_root);
// A subtree of the tree of `size` leaves: a consistency proof inside the node
// that holds the subtree, then that node's path to the root. With start = 0
// this is exactly the RFC 9162 consistency proof from end to size. An empty
// subtree (start = end) is consistent with anything, if its hash is the
// empty root and the proof empty.
Status VerifySubtreeConsistency(uint64_t start, uint64_t end, uint64_t size, const std::vector<std::string>& proof,
                                std::string_view subtree_root, std::string_view root);

}  // namespace execgov::ledger
