// A bounded cache of verified signatures (policy::SignatureCache). Keys are
// the exact artifact bytes plus policy name and generation; an entry is never
// returned after the artifact's expiry, and the least recently used entry is
// evicted when full. Revocation is re-checked by Decide() on every request.
//
// The cache holds the SHA-256 of each key rather than the key: an artifact is
// ~500 bytes and the key was stored twice (map and LRU list), so a full
// default cache (65,536 entries) took ~69 MB; a 32-byte digest identifies the
// same exact bytes (a collision would have to be found in SHA-256). A full
// default cache takes 3.8 MB (58 bytes an entry, measured with tcmalloc's
// allocated-bytes counter).
#pragma once

#include <cstring>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "crypto/sha256.h"
#include "policy/decision.h"

namespace execgov::webhook {

class LruSignatureCache : public policy::SignatureCache {
 public:
  explicit LruSignatureCache(size_t capacity);
  bool Contains(const std::string& key, int64_t now) const override;
  void Insert(const std::string& key, int64_t expires_at) override;
  size_t size() const;

 private:
  // Entries live in one array, linked in recency order by index, and are
  // found through an open-addressed table (linear probing) of array
  // positions: 58 bytes an entry, where a std::list beside a
  // std::unordered_map took 124.
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Slot {
    crypto::Hash digest;
    int64_t expires_at;
    uint32_t newer, older;  // neighbours in recency order, kNone at the ends
  };
  static size_t Home(const crypto::Hash& d) {
    size_t v;
    std::memcpy(&v, d.data(), sizeof v);  // already uniformly distributed
    return v;
  }
  // Position in table_ of the entry for `d`, or SIZE_MAX.
  size_t Find(const crypto::Hash& d) const;
  void Link(uint32_t slot) const;    // as the most recent
  void Unlink(uint32_t slot) const;
  void Remove(size_t pos) const;     // the entry at table_[pos], everywhere
  void Place(uint32_t slot) const;   // into table_
  void GrowTable() const;

  const uint32_t capacity_;
  mutable std::mutex mu_;
  mutable std::vector<Slot> slots_;      // grows up to capacity_
  mutable std::vector<uint32_t> free_;   // slots of removed entries
  mutable std::vector<uint32_t> table_;  // slot + 1, or 0: empty; at most half full
  mutable uint32_t newest_ = kNone, oldest_ = kNone;
  mutable size_t size_ = 0;
};

}  // namespace execgov::webhook
