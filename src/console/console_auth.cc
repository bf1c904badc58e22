#include "console/console_auth.h"

#include <openssl/crypto.h>

#include "console/console_server.h"
#include "crypto/sha256.h"

namespace execgov::console {
namespace {

using nlohmann::json;

std::string Digest(const std::string& token) { return std::string(crypto::HashBytes(crypto::Sha256(token))); }

constexpr char kTokenReviews[] = "/apis/authentication.k8s.io/v1/tokenreviews";
constexpr char kAccessReviews[] = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

}  // namespace

StaticTokenAuthenticator::StaticTokenAuthenticator(const std::string& token) : digest_(Digest(token)) {}

size_t StaticTokenAuthenticator::max_token_bytes() const { return kMaxTokenBytes; }

StatusOr<Identity> StaticTokenAuthenticator::Authenticate(const std::string& token) {
  if (token.empty() || token.size() > kMaxTokenBytes) return PermissionDenied("not the console's token");
  std::string digest = Digest(token);
  if (CRYPTO_memcmp(digest.data(), digest_.data(), digest.size()) != 0) {
    return PermissionDenied("not the console's token");
  }
  return Identity{"console", {}};
}

json TokenReviewRequest(const std::string& token) {
  return {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenReview"}, {"spec", {{"token", token}}}};
}

StatusOr<json> ReviewedUser(const json& review) {
  if (!review.is_object() || !review.contains("status") || !review["status"].is_object()) {
    return Unavailable("the TokenReview has no status");
  }
  const json& st = review["status"];
  // Literal booleans only: a review's answer is read without ever throwing.
  if (!st.contains("authenticated") || st["authenticated"] != true) return PermissionDenied("the API server does not know this token");
  if (!st.contains("user") || !st["user"].is_object() || !st["user"].contains("username") ||
      !st["user"]["username"].is_string() || st["user"]["username"].get<std::string>().empty()) {
    return Unavailable("the TokenReview names no user");
  }
  return st["user"];
}

json AccessReviewRequest(const json& user, const LedgerReadAccess& access) {
  json spec = {{"user", user.value("username", "")}};
  if (user.contains("uid") && user["uid"].is_string()) spec["uid"] = user["uid"];
  if (user.contains("groups") && user["groups"].is_array()) spec["groups"] = user["groups"];
  // Scoped credentials carry their scope in extra; the authorizer needs it.
  if (user.contains("extra") && user["extra"].is_object()) spec["extra"] = user["extra"];
  json attrs = {{"group", access.group}, {"resource", access.resource}, {"verb", access.verb}, {"namespace", access.ns}};
  if (!access.name.empty()) attrs["name"] = access.name;
  spec["resourceAttributes"] = attrs;
  return {{"apiVersion", "authorization.k8s.io/v1"}, {"kind", "SubjectAccessReview"}, {"spec", spec}};
}

Status AccessAllowed(const json& review) {
  if (!review.is_object() || !review.contains("status") || !review["status"].is_object()) {
    return Unavailable("the SubjectAccessReview has no status");
  }
  const json& st = review["status"];
  // allowed must be literally true; denied wins over anything else.
  if ((st.contains("denied") && st["denied"] == true) || !st.contains("allowed") || st["allowed"] != true) {
    return PermissionDenied("this user may not read the ledger");
  }
  return Status::Ok();
}

KubeReviewAuthenticator::KubeReviewAuthenticator(kube::Client* reviewer, KubeReviewOptions options)
    : reviewer_(reviewer),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : &SystemClock::Get()) {
  if (options_.max_entries == 0) options_.max_entries = 1;
}

uint64_t KubeReviewAuthenticator::reviews() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reviews_;
}

StatusOr<Identity> KubeReviewAuthenticator::Review(const std::string& token) {
  auto tr = reviewer_->Create(kTokenReviews, TokenReviewRequest(token));
  if (!tr.ok()) return Unavailable("TokenReview: " + tr.status().message());
  EXECGOV_ASSIGN_OR_RETURN(json user, ReviewedUser(*tr));
  auto sar = reviewer_->Create(kAccessReviews, AccessReviewRequest(user, options_.access));
  if (!sar.ok()) return Unavailable("SubjectAccessReview: " + sar.status().message());
  EXECGOV_RETURN_IF_ERROR(AccessAllowed(*sar));
  Identity id;
  id.user = user["username"].get<std::string>();
  if (user.contains("groups") && user["groups"].is_array()) {
    for (const auto& g : user["groups"]) {
      if (g.is_string() && id.groups.size() < 64) id.groups.push_back(g.get<std::string>());
    }
  }
  return id;
}

StatusOr<Identity> KubeReviewAuthenticator::Authenticate(const std::string& token) {
  if (token.empty() || token.size() > kMaxKubeTokenBytes) return PermissionDenied("no usable bearer token");
  const std::string key = Digest(token);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto it = cache_.find(key);
    if (it == cache_.end()) break;
    if (!it->second.done) {  // another request reviews this token: share its answer
      cv_.wait(lock);
      continue;
    }
    if (clock_->Now() < it->second.expires) return it->second.result;
    order_.erase(it->second.order);
    cache_.erase(it);
    break;
  }
  // Make room: drop the oldest answers. In-flight entries are never
  // dropped (their reviewer fills them in).
  if (cache_.size() >= options_.max_entries) {
    for (auto o = order_.begin(); o != order_.end() && cache_.size() >= options_.max_entries;) {
      auto e = cache_.find(*o);
      if (e->second.done) {
        o = order_.erase(o);
        cache_.erase(e);
      } else {
        ++o;
      }
    }
    if (cache_.size() >= options_.max_entries) return Unavailable("too many logins under review at once");
  }
  order_.push_back(key);
  Entry& mine = cache_[key];
  mine.order = std::prev(order_.end());
  ++reviews_;
  lock.unlock();

  StatusOr<Identity> result = Review(token);

  lock.lock();
  auto it = cache_.find(key);  // still there: in-flight entries are never dropped
  if (result.ok() || result.status().code() == StatusCode::kPermissionDenied) {
    it->second.result = result;
    it->second.done = true;
    it->second.expires = clock_->Now() + options_.ttl;
  } else {
    // Not a definite answer: nothing is cached, the next request asks again.
    order_.erase(it->second.order);
    cache_.erase(it);
  }
  lock.unlock();
  cv_.notify_all();
  return result;
}

}  // namespace execgov::console
