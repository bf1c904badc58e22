#include "console/console_server.h"

#include "api/object.h"
#include "console/cluster_view.h"
#include "console/policy_health.h"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <charconv>
#include <filesystem>
#include <set>

#include "core/clock.h"
#include "core/file.h"
#include "core/json_fast.h"
#include "crypto/encoding.h"
#include "crypto/sha256.h"
#include "policy/policy.h"

namespace execgov::console {
namespace {

using nlohmann::json;
using webhook::HttpRequest;
using webhook::HttpResponse;

// No inline script or style, nothing from another origin, never framed.
constexpr char kCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

void SecurityHeaders(HttpResponse* r, bool cacheable) {
  r->headers.emplace_back("Content-Security-Policy", kCsp);
  r->headers.emplace_back("X-Content-Type-Options", "nosniff");
  r->headers.emplace_back("X-Frame-Options", "DENY");
  r->headers.emplace_back("Referrer-Policy", "no-referrer");
  r->headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r->headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
  r->headers.emplace_back("Strict-Transport-Security", "max-age=31536000");
  r->headers.emplace_back("Cache-Control", cacheable ? "public, max-age=31536000, immutable" : "no-store");
}

HttpResponse Json(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
  return r;
}

HttpResponse Error(int status, const std::string& message) { return Json(status, {{"error", message}}); }

HttpResponse FromStatus(const Status& st) {
  int code = 500;
  switch (st.code()) {
    case StatusCode::kInvalidArgument: code = 400; break;
    case StatusCode::kNotFound: code = 404; break;
    case StatusCode::kFailedPrecondition: code = 409; break;
    case StatusCode::kUnavailable: code = 503; break;
    default: break;
  }
  return Error(code, st.message());
}

std::string ContentTypeOf(const std::string& path) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
      {".png", "image/png"},                 {".ico", "image/x-icon"},
      {".json", "application/json"},         {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"}};
  auto ext = std::filesystem::path(path).extension().string();
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? std::string() : it->second;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding; nullopt for a bad escape or a
// control character.
std::optional<std::string> Unescape(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
    out.push_back(c);
  }
  return out;
}

using Params = std::map<std::string, std::string>;

// Parses the query against the names `allowed`: an unknown or repeated
// name, a value over kMaxParamBytes or more than kMaxParams are refused.
StatusOr<Params> ParseQuery(std::string_view query, const std::set<std::string>& allowed) {
  Params out;
  size_t count = 0;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    if (++count > kMaxParams) return InvalidArgument("too many query parameters");
    size_t eq = part.find('=');
    auto name = Unescape(part.substr(0, eq));
    auto value = Unescape(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    if (!name || !value) return InvalidArgument("a query parameter is not well escaped");
    if (!allowed.count(*name)) return InvalidArgument("unknown query parameter \"" + name->substr(0, 40) + "\"");
    if (value->size() > kMaxParamBytes) {
      return InvalidArgument(*name + " is longer than " + std::to_string(kMaxParamBytes) + " bytes");
    }
    if (!out.emplace(*name, *value).second) return InvalidArgument(*name + " is given twice");
  }
  return out;
}

StatusOr<std::optional<uint64_t>> Number(const Params& p, const std::string& name) {
  auto it = p.find(name);
  if (it == p.end() || it->second.empty()) return std::optional<uint64_t>();
  uint64_t v = 0;
  const std::string& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.size() > 20) {
    return InvalidArgument(name + " must be a non-negative integer");
  }
  return std::optional<uint64_t>(v);
}

StatusOr<std::optional<int64_t>> Time(const Params& p, const std::string& name) {
  auto it = p.find(name);
  if (it == p.end() || it->second.empty()) return std::optional<int64_t>();
  auto t = ParseRfc3339(it->second);
  if (!t) return InvalidArgument(name + " must be an RFC 3339 time");
  return std::optional<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count());
}

// A cookie value (RFC 6265 cookie-octet): no control characters, spaces,
// quotes, commas, semicolons or backslashes.
bool CookieSafe(const std::string& v) {
  for (unsigned char c : v) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\') return false;
  }
  return true;
}

std::string Get(const Params& p, const std::string& name) {
  auto it = p.find(name);
  return it == p.end() ? std::string() : it->second;
}

json StringOr(const json& j, std::initializer_list<const char*> path) {
  const json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object() || !cur->contains(k)) return nullptr;
    cur = &(*cur)[k];
  }
  return *cur;
}

// What a list shows of a record: the members a person scans for.
json Summary(LedgerIndex& index, uint64_t seq) {
  json s = {{"seq", seq}, {"broken", index.Broken(seq)}};
  if (auto h = index.LeafHash(seq); h.ok()) s["hash"] = crypto::HashToSha256Ref(*h);
  auto bytes = index.Record(seq);
  if (!bytes.ok()) return s;
  std::optional<json> r = ParseJsonFast(*bytes);
  if (!r) {
    if (CheckJsonLimits(*bytes).ok()) r = json::parse(*bytes, nullptr, false);
  }
  if (!r || !r->is_object()) {
    s["malformed"] = true;
    return s;
  }
  // An approval's verdict and approver, a grant's authority, kid, rule, jti
  // and the approvals it counted: the story graph shows who decided what.
  for (const char* k : {"type", "decision", "reason", "time", "phase", "outcome", "parent", "previous", "derived",
                        "intent", "digest", "message", "user", "initiator", "owner", "verdict", "approver",
                        "approval", "approvals", "approverReason", "authority", "kid", "rule", "jti"}) {
    if (r->contains(k)) s[k] = (*r)[k];
  }
  if (r->contains("object")) s["object"] = (*r)["object"];
  if (r->contains("artifact")) s["artifact"] = (*r)["artifact"];
  if (r->contains("parentRef")) s["parentRef"] = (*r)["parentRef"];
  if (StringOr(*r, {"type"}) == "checkpoint") s["checkpoint"] = (*r)["checkpoint"];
  return s;
}

const std::set<std::string> kSearchParams = {"limit", "before", "name",  "object", "namespace", "kind",
                                             "uid",   "jti",    "sub",   "iss",    "kid",       "digest",
                                             "decision", "reason", "type", "since", "until"};

}  // namespace

Status CheckToken(const std::string& token) {
  if (token.size() < kMinTokenBytes || token.size() > kMaxTokenBytes) {
    return InvalidArgument("the token must be " + std::to_string(kMinTokenBytes) + ".." +
                           std::to_string(kMaxTokenBytes) + " bytes");
  }
  for (unsigned char c : token) {
    if (c <= 0x20 || c >= 0x7f || c == ';' || c == ',' || c == '"' || c == '\\') {
      return InvalidArgument("the token must be printable ASCII without spaces, quotes, ';', ',' or '\\'");
    }
  }
  return Status::Ok();
}

StatusOr<std::string> ReadTokenFile(const std::string& path) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) return InvalidArgument("cannot read the token file " + path);
  if (sb.st_mode & 077) return InvalidArgument(path + " is readable by others: chmod 600 it (it is a credential)");
  EXECGOV_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::string token = text.substr(0, text.find('\n'));
  if (!token.empty() && token.back() == '\r') token.pop_back();
  EXECGOV_RETURN_IF_ERROR(CheckToken(token));
  return token;
}

StatusOr<std::unique_ptr<Console>> Console::Create(ConsoleOptions options) {
  namespace fs = std::filesystem;
  if (!options.index) return InvalidArgument("the console needs a ledger index");
  if (!options.authenticator) EXECGOV_RETURN_IF_ERROR(CheckToken(options.token));
  if (options.allow_writes && !options.user_client) {
    return InvalidArgument("writes need the API server (in-cluster authentication)");
  }
  std::unique_ptr<Console> c(new Console(std::move(options)));
  if (c->options_.authenticator) {
    c->authenticator_ = c->options_.authenticator;
  } else {
    c->own_authenticator_ = std::make_unique<StaticTokenAuthenticator>(c->options_.token);
    c->authenticator_ = c->own_authenticator_.get();
  }
  std::error_code ec;
  fs::path root = fs::canonical(c->options_.assets_dir, ec);
  if (ec) return InvalidArgument("the console's assets " + c->options_.assets_dir + ": " + ec.message());
  size_t total = 0;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string rel = "/" + fs::relative(it->path(), root).generic_string();
    std::string type = ContentTypeOf(rel);
    if (type.empty()) continue;  // source maps and anything unexpected are not served
    if (c->assets_.size() >= kMaxAssetFiles) return InvalidArgument("more than 512 files in the console's assets");
    EXECGOV_ASSIGN_OR_RETURN(std::string body, ReadFile(it->path().string()));
    total += body.size();
    if (total > kMaxAssetBytes) return InvalidArgument("the console's assets are larger than 64 MiB");
    c->assets_[rel] = Asset{type, std::move(body)};
  }
  if (ec) return InvalidArgument("reading the console's assets: " + ec.message());
  for (const char* page : {"/index.html", "/login.html"}) {
    if (!c->assets_.count(page)) {
      return InvalidArgument(c->options_.assets_dir + " has no " + std::string(page + 1) +
                             " (build the console: hack/build.sh console)");
    }
  }
  return c;
}

std::optional<Console::Session> Console::Authorized(const HttpRequest& request) const {
  std::string presented;
  constexpr std::string_view kBearer = "Bearer ";
  if (request.authorization.size() > kBearer.size() &&
      std::string_view(request.authorization).substr(0, kBearer.size()) == kBearer) {
    presented = request.authorization.substr(kBearer.size());
  } else {
    const std::string name = std::string(kSessionCookie) + "=";
    std::string_view cookies = request.cookie;
    while (!cookies.empty()) {
      size_t semi = cookies.find(';');
      std::string_view c = cookies.substr(0, semi);
      cookies = semi == std::string_view::npos ? std::string_view() : cookies.substr(semi + 1);
      while (!c.empty() && c.front() == ' ') c.remove_prefix(1);
      if (c.substr(0, name.size()) == name) {
        presented = std::string(c.substr(name.size()));
        break;
      }
    }
  }
  if (presented.empty() || presented.size() > authenticator_->max_token_bytes()) return std::nullopt;
  auto id = authenticator_->Authenticate(presented);
  if (!id.ok()) return std::nullopt;
  return Session{std::move(presented), std::move(*id)};
}

HttpResponse Console::Page(const std::string& file, int status) const {
  const Asset& a = assets_.at(file);
  HttpResponse r;
  r.status = status;
  r.content_type = a.content_type;
  r.body = a.body;
  return r;
}

HttpResponse Console::Login(const HttpRequest& request) const {
  if (request.body.size() > kMaxLoginBodyBytes) return Error(413, "the body is too large");
  std::optional<json> body = ParseJsonFast(request.body);
  std::string token;
  if (body && body->is_object() && body->contains("token") && (*body)["token"].is_string()) {
    token = (*body)["token"].get<std::string>();
  }
  HttpRequest probe;
  probe.authorization = "Bearer " + token;
  // A token that could not become a cookie value is refused here rather
  // than set and then never sent back.
  if (token.empty() || !CookieSafe(token) || !Authorized(probe)) {
    HttpResponse r = Error(401, std::string(authenticator_->mode()) == "token"
                                    ? "the token is not the console's"
                                    : "the API server does not know this token, or its user may not read the ledger");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  HttpResponse r = Json(200, {{"ok", true}});
  r.headers.emplace_back("Set-Cookie",
                         std::string(kSessionCookie) + "=" + token + "; Path=/; Secure; HttpOnly; SameSite=Strict");
  return r;
}

HttpResponse Console::Handle(const HttpRequest& request) const {
  HttpResponse r;
  const std::string& target = request.target;
  const size_t q = target.find('?');
  const std::string path = target.substr(0, q);
  const std::string query = q == std::string::npos ? std::string() : target.substr(q + 1);
  const bool get = request.method == "GET" || request.method == "HEAD";
  bool cacheable = false;
  if (target.size() > kMaxTargetBytes) {
    r = Error(414, "the request target is too long");
  } else if (path.empty() || path[0] != '/' || path.find("..") != std::string::npos) {
    r = Error(400, "a bad path");
  } else if (path == "/api/login" && request.method == "POST") {
    r = Login(request);
  } else if (path == "/api/logout" && request.method == "POST") {
    r = Json(200, {{"ok", true}});
    r.headers.emplace_back("Set-Cookie", std::string(kSessionCookie) +
                                             "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
  } else if (request.method == "POST" && path.rfind("/api/", 0) == 0 && path != "/api/login" &&
             path != "/api/logout") {
    auto session = Authorized(request);
    if (!session) {
      r = Error(401, "a bearer token is required");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
    } else {
      r = Write(path, request, *session);
    }
  } else if (!get) {
    r = Error(405, "the console is read-only");
  } else if (path == "/login" || path == "/login.html") {
    r = Page("/login.html", 200);
  } else if (path.rfind("/assets/", 0) == 0) {
    // The app's code and styles: public, like the login page that needs
    // them; they hold no ledger data.
    auto it = assets_.find(path);
    if (it == assets_.end()) {
      r = Error(404, "no such asset");
    } else {
      r.content_type = it->second.content_type;
      r.body = it->second.body;
      cacheable = true;
    }
  } else if (auto session = Authorized(request); !session) {
    if (path.rfind("/api/", 0) == 0) {
      r = Error(401, "a bearer token is required");
    } else {
      r = Page("/login.html", 401);
    }
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
  } else if (path.rfind("/api/", 0) == 0) {
    r = Api(path, query, *session);
  } else if (path == "/" || path == "/index.html") {
    r = Page("/index.html", 200);
  } else if (auto it = assets_.find(path); it != assets_.end() && path != "/login.html") {
    r.content_type = it->second.content_type;
    r.body = it->second.body;
  } else {
    r = Error(404, "no such page");
  }
  SecurityHeaders(&r, cacheable);
  if (request.method == "HEAD") r.body.clear();
  return r;
}

HttpResponse Console::Api(const std::string& path, const std::string& query, const Session& session) const {
  StatusOr<json> body = ApiBody(path, query, session);
  return body.ok() ? Json(200, *body) : FromStatus(body.status());
}

StatusOr<json> Console::ApiBody(const std::string& path, const std::string& query, const Session& session) const {
  if (path == "/api/whoami") {
    EXECGOV_RETURN_IF_ERROR(ParseQuery(query, {}).status());
    return json{{"user", session.identity.user},
                {"groups", session.identity.groups},
                {"mode", authenticator_->mode()},
                {"writes", options_.allow_writes}};
  }
  LedgerIndex& index = *options_.index;
  if (Status st = index.Refresh(); !st.ok()) return Unavailable("cannot read the ledger: " + st.message());
  if (path == "/api/health") {
    // cluster=0: without the reads from the API server (the page asks for
    // them every few polls, not every 5 s: each is a list of every policy
    // and PolicyReport the user may see).
    EXECGOV_ASSIGN_OR_RETURN(Params p, ParseQuery(query, {"cluster"}));
    const std::string cluster = Get(p, "cluster");
    if (cluster != "" && cluster != "0" && cluster != "1") return InvalidArgument("cluster must be 0 or 1");
    json health = options_.health ? options_.health->Scrape() : json{{"targets", json::array()}};
    health["ledger"] = {{"size", index.size()}};
    if (auto cp = index.latest_checkpoint()) {
      health["ledger"]["checkpointSize"] = cp->size;
      auto t = index.RecordTime(cp->seq);
      if (t) health["ledger"]["checkpointTime"] = *t;
    }
    if (options_.credentials) health["console"] = {{"certificateNotAfter", options_.credentials->not_after()}};
    // Policies' conditions are read as the user, as the governance page's
    // policies are: what RBAC lets them list.
    if (options_.user_client && cluster != "0") {
      auto user = options_.user_client(session.token);
      health["policies"] = user.ok() ? ClusterPolicyHealth(**user, session.identity.user)
                                     : json{{"available", true},
                                            {"error", "cannot reach the API server: " + user.status().message()}};
      if (user.ok()) health["runtimeReports"] = RuntimeReports(**user, session.identity.user);
    } else if (!options_.user_client) {
      health["policies"] = StandalonePolicyHealth();
    }
    return health;
  }
  if (path == "/api/governance") {
    EXECGOV_RETURN_IF_ERROR(ParseQuery(query, {}).status());
    return Governance(session);
  }
  if (path == "/api/head") {
    EXECGOV_RETURN_IF_ERROR(ParseQuery(query, {}).status());
    json head = {{"size", index.size()}, {"generation", index.generation()}, {"broken", index.broken()}};
    if (auto cp = index.latest_checkpoint()) {
      head["checkpoint"] = {{"seq", cp->seq}, {"size", cp->size}, {"note", cp->note}};
      if (options_.cosigned) {
        // None stored yet, or unreadable: sent without it, which the browser
        // takes as uncosigned (NOT WITNESSED when it requires a witness).
        std::lock_guard<std::mutex> lock(cosigned_mu_);
        auto note = options_.cosigned->Read();
        if (note.ok() && note->size() <= ledger::kMaxCosignedNoteBytes) head["checkpoint"]["cosigned"] = *note;
      }
    } else {
      head["checkpoint"] = nullptr;
    }
    return head;
  }
  if (path == "/api/records") {
    EXECGOV_ASSIGN_OR_RETURN(Params p, ParseQuery(query, kSearchParams));
    EXECGOV_ASSIGN_OR_RETURN(auto limit, Number(p, "limit"));
    EXECGOV_ASSIGN_OR_RETURN(auto before, Number(p, "before"));
    RecordFilter f;
    f.name = Get(p, "name");
    f.object = Get(p, "object");
    f.ns = Get(p, "namespace");
    f.kind = Get(p, "kind");
    f.uid = Get(p, "uid");
    f.jti = Get(p, "jti");
    f.sub = Get(p, "sub");
    f.iss = Get(p, "iss");
    f.kid = Get(p, "kid");
    f.digest = Get(p, "digest");
    f.decision = Get(p, "decision");
    f.reason = Get(p, "reason");
    f.type = Get(p, "type");
    EXECGOV_ASSIGN_OR_RETURN(f.since_ms, Time(p, "since"));
    EXECGOV_ASSIGN_OR_RETURN(f.until_ms, Time(p, "until"));
    EXECGOV_ASSIGN_OR_RETURN(console::Page page, index.Query(f, before, limit.value_or(50)));
    json records = json::array();
    for (uint64_t s : page.seqs) records.push_back(Summary(index, s));
    return json{{"records", records},
                {"next", page.next_before ? json(*page.next_before) : json(nullptr)},
                {"size", index.size()}};
  }
  EXECGOV_ASSIGN_OR_RETURN(Params p, ParseQuery(query, {"seq", "from", "to"}));
  EXECGOV_ASSIGN_OR_RETURN(auto seq, Number(p, "seq"));
  if (path == "/api/consistency") {
    EXECGOV_ASSIGN_OR_RETURN(auto from, Number(p, "from"));
    EXECGOV_ASSIGN_OR_RETURN(auto to, Number(p, "to"));
    if (!from || !to) return InvalidArgument("from and to are required");
    EXECGOV_ASSIGN_OR_RETURN(auto proof, index.ConsistencyProof(*from, *to));
    return json{{"from", *from}, {"to", *to}, {"proof", proof}};
  }
  if (path != "/api/record" && path != "/api/proof" && path != "/api/story") return NotFound("no such API");
  if (!seq) return InvalidArgument("seq is required");
  if (path == "/api/record") {
    EXECGOV_ASSIGN_OR_RETURN(std::string bytes, index.Record(*seq));
    json out = Summary(index, *seq);
    out["canonical"] = bytes;
    return out;
  }
  if (path == "/api/proof") return index.InclusionProof(*seq);
  std::vector<uint64_t> parents;
  EXECGOV_ASSIGN_OR_RETURN(auto story, index.Story(*seq, &parents));
  json records = json::array(), up = json::array();
  for (uint64_t s : story) records.push_back(Summary(index, s));
  for (uint64_t s : parents) up.push_back(Summary(index, s));
  return json{{"seq", *seq}, {"records", records}, {"parents", up}};
}

// The governance page's data. Standalone (or with --policy): the policy
// files. In cluster: the ExecutionPolicies and the pending ExecutionRequests
// as the logged-in user may list them, so RBAC decides what each user sees;
// a refusal or an unreachable API server is shown, not hidden.
StatusOr<json> Console::Governance(const Session& session) const {
  json out = {{"policies", json::array()}, {"source", options_.policy_path}};
  if (!options_.policy_path.empty()) {
    auto set = policy::LoadPolicyPath(options_.policy_path);
    if (!set.ok()) {
      out["error"] = set.status().message();
    } else {
      for (const auto& p : set->policies) out["policies"].push_back(PolicyView(*p));
    }
  }
  if (!options_.user_client) return out;
  auto user = options_.user_client(session.token);
  if (!user.ok()) return Unavailable("cannot reach the API server: " + user.status().message());
  if (options_.policy_path.empty()) {
    out["source"] = "the API server";
    auto policies = ClusterPolicies(**user);
    if (policies.ok()) {
      out["policies"] = *policies;
    } else {
      out["error"] = "listing ExecutionPolicies as " + session.identity.user + ": " + policies.status().message();
    }
  }
  auto pending = PendingRequests(**user);
  if (pending.ok()) {
    out["pending"] = (*pending)["requests"];
    out["pendingTruncated"] = (*pending)["truncated"];
  } else {
    out["pendingError"] = "listing ExecutionRequests as " + session.identity.user + ": " + pending.status().message();
  }
  out["writes"] = options_.allow_writes;
  return out;
}

HttpResponse Console::Write(const std::string& path, const HttpRequest& request, const Session& session) const {
  if (path != "/api/revoke" && path != "/api/approve" && path != "/api/deny") {
    return Error(405, "only GET is served here");
  }
  if (!options_.allow_writes) return Error(405, "the console is read-only (execgov console --allow-writes)");
  // CSRF: only a same-origin script can send a JSON body with this type.
  std::string_view type = request.content_type;
  if (type.substr(0, type.find(';')) != "application/json") {
    return Error(415, "a write must be sent as application/json");
  }
  if (request.body.size() > kMaxLoginBodyBytes) return Error(413, "the body is too large");
  std::optional<json> body = ParseJsonFast(request.body);
  if (!body) return Error(400, "the body is not JSON");
  const std::string& who = session.identity.user;
  // What the API server answered the user: its refusal (RBAC, a webhook) is
  // the user's, and says so.
  auto refused = [&who](const Status& st) {
    if (st.code() == StatusCode::kPermissionDenied) return Error(403, "the API server refused " + who + ": " + st.message());
    return FromStatus(st);
  };
  if (path == "/api/revoke") {
    auto revoke = ParseRevokeRequest(*body);
    if (!revoke.ok()) return FromStatus(revoke.status());
    auto user = options_.user_client(session.token);
    if (!user.ok()) return Error(503, "cannot reach the API server: " + user.status().message());
    if (Status st = Revoke(**user, *revoke); !st.ok()) return refused(st);
    return Json(200, {{"ok", true},
                      {"policy", revoke->policy},
                      {revoke->kind == RevokeKind::kJti ? "jti" : "kid", revoke->value},
                      {"by", who}});
  }
  auto decision = ParseDecisionRequest(*body, path == "/api/approve");
  if (!decision.ok()) return FromStatus(decision.status());
  auto user = options_.user_client(session.token);
  if (!user.ok()) return Error(503, "cannot reach the API server: " + user.status().message());
  auto created = CreateApproval(**user, *decision, who);
  if (!created.ok()) return refused(created.status());
  return Json(200, {{"ok", true},
                    {"approval", api::StringAt(*created, {"metadata", "name"})},
                    {"decision", decision->approve ? "Approve" : "Deny"},
                    {"by", who}});
}

}  // namespace execgov::console
