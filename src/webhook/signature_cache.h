// A bounded cache of verified signatures (policy::SignatureCache). Keys are
// the exact artifact bytes plus policy name and generation; an entry is never
// returned after the artifact's expiry, and the least recently used entry is
// evicted when full. Revocation is re-checked by Decide() on every request.
#pragma once

#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "policy/decision.h"

namespace execgov::webhook {

class LruSignatureCache : public policy::SignatureCache {
 public:
  explicit LruSignatureCache(size_t capacity) : capacity_(capacity) {}
  bool Contains(const std::string& key, int64_t now) const override;
  void Insert(const std::string& key, int64_t expires_at) override;
  size_t size() const;

 private:
  struct Entry {
    int64_t expires_at;
    std::list<std::string>::iterator order;
  };
  size_t capacity_;
  mutable std::mutex mu_;
  mutable std::list<std::string> order_;  // most recent first
  mutable std::unordered_map<std::string, Entry> entries_;
};

}  // namespace execgov::webhook
