#include "webhook/signature_cache.h"

namespace execgov::webhook {

bool LruSignatureCache::Contains(const std::string& key, int64_t now) const {
  crypto::Hash digest = crypto::Sha256(key);  // hashed before taking the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(digest);
  if (it == entries_.end()) return false;
  if (now >= it->second.expires_at) {
    order_.erase(it->second.order);
    entries_.erase(it);
    return false;
  }
  order_.splice(order_.begin(), order_, it->second.order);
  return true;
}

void LruSignatureCache::Insert(const std::string& key, int64_t expires_at) {
  if (capacity_ == 0) return;
  crypto::Hash digest = crypto::Sha256(key);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(digest);
  if (it != entries_.end()) {
    it->second.expires_at = expires_at;
    order_.splice(order_.begin(), order_, it->second.order);
    return;
  }
  while (entries_.size() >= capacity_) {
    entries_.erase(order_.back());
    order_.pop_back();
  }
  order_.push_front(digest);
  entries_.emplace(digest, Entry{expires_at, order_.begin()});
}

size_t LruSignatureCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace execgov::webhook
