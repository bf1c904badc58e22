// A bounded cache of verified signatures (policy::SignatureCache). Keys are
// the exact artifact bytes plus policy name and generation; an entry is never
// returned after the artifact's expiry, and the least recently used entry is
// evicted when full. Revocation is re-checked by Decide() on every request.
//
// The cache holds the SHA-256 of each key rather than the key: an artifact is
// ~500 bytes and the key was stored twice (map and LRU list), so a full
// default cache (65,536 entries) took ~69 MB; a 32-byte digest identifies the
// same exact bytes (a collision would have to be found in SHA-256), and the
// full cache takes ~8 MB (124 bytes an entry, measured with tcmalloc's
// allocated-bytes counter).
#pragma once

#include <cstring>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "crypto/sha256.h"
#include "policy/decision.h"

namespace execgov::webhook {

class LruSignatureCache : public policy::SignatureCache {
 public:
  explicit LruSignatureCache(size_t capacity) : capacity_(capacity) {}
  bool Contains(const std::string& key, int64_t now) const override;
  void Insert(const std::string& key, int64_t expires_at) override;
  size_t size() const;

 private:
  struct DigestHash {
    size_t operator()(const crypto::Hash& h) const {
      size_t v;
      std::memcpy(&v, h.data(), sizeof v);  // already uniformly distributed
      return v;
    }
  };
  struct Entry {
    int64_t expires_at;
    std::list<crypto::Hash>::iterator order;
  };
  size_t capacity_;
  mutable std::mutex mu_;
  mutable std::list<crypto::Hash> order_;  // most recent first
  mutable std::unordered_map<crypto::Hash, Entry, DigestHash> entries_;
};

}  // namespace execgov::webhook
