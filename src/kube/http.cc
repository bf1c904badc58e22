#include "kube/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <vector>

#include <openssl/crypto.h>

namespace execgov::kube {
namespace {

// libcurl frees a connection's TLS state when its easy handle is cleaned
// up, which for a client held in a static happens after OpenSSL's own exit
// handler has destroyed the locks that free takes (a process that used the
// previous client hung at exit in SSL_CTX_free, seen in CI). Keeping
// OpenSSL's global state until the process is gone avoids the ordering
// altogether; the kernel reclaims the memory. This runs during static
// initialisation, before anything here has touched OpenSSL, and the first
// init call decides.
[[maybe_unused]] const int kOpenSslKeptUntilExit = OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);

// How often a stream looks at *stop while no byte arrives (the contract's
// "~200 ms").
constexpr int kStopPollMs = 200;
// Idle easy handles (each with its keep-alive connection) kept per client;
// more threads than this at once still work, their extra handles are closed
// after use.
constexpr size_t kMaxIdleHandles = 32;

Status InitCurlOnce() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) return Internal(std::string("libcurl initialisation: ") + curl_easy_strerror(rc));
  return Status::Ok();
}

// One easy handle and what a transfer on it fills in. Never used by two
// threads at once: the pool hands it to one caller at a time.
struct Handle {
  CURL* curl = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  // Per transfer: the Retry-After of the final response, and a failure of
  // ours inside a callback (libcurl only sees "write error").
  int retry_after = -1;
  std::string callback_error;

  Handle() : curl(curl_easy_init()) {}
  ~Handle() {
    if (curl) curl_easy_cleanup(curl);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  bool Add(const std::string& h) {
    curl_slist* next = curl_slist_append(list, h.c_str());
    if (!next) return false;
    list = next;
    return true;
  }
};

// "Retry-After: 12" as seconds; an HTTP date, a negative or oversized
// number is -1 (the caller's own back-off applies).
int ParseRetryAfter(std::string_view v) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  if (v.empty() || v.size() > 9) return -1;
  int out = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return -1;
    out = out * 10 + (c - '0');
  }
  return out;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* h = static_cast<Handle*>(user);
  std::string_view line(data, size * count);
  // A new status line (after a 100 Continue, or a redirect we do not follow)
  // starts a new response: only the final one's headers count.
  if (line.substr(0, 5) == "HTTP/") {
    h->retry_after = -1;
  } else if (line.size() > 12) {
    std::string name(line.substr(0, 12));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (name == "retry-after:") h->retry_after = ParseRetryAfter(line.substr(12));
  }
  return size * count;
}

struct RequestBody {
  Handle* handle;
  std::string* out;
};

size_t OnRequestData(char* data, size_t size, size_t count, void* user) {
  auto* r = static_cast<RequestBody*>(user);
  try {
    r->out->append(data, size * count);
  } catch (const std::exception& e) {
    r->handle->callback_error = std::string("reading the response: ") + e.what();
    return 0;  // not the size given: libcurl ends the transfer
  }
  return size * count;
}

struct StreamState {
  Handle* handle;
  const std::function<bool(std::string_view)>* on_data;
  std::string error_body;        // a non-2xx body, kept whole
  bool consumer_stopped = false;  // on_data returned false
};

size_t OnStreamData(char* data, size_t size, size_t count, void* user) {
  auto* s = static_cast<StreamState*>(user);
  long status = 0;
  curl_easy_getinfo(s->handle->curl, CURLINFO_RESPONSE_CODE, &status);
  try {
    if (status < 200 || status > 299) {
      s->error_body.append(data, size * count);
    } else if (!(*s->on_data)(std::string_view(data, size * count))) {
      s->consumer_stopped = true;
      return 0;
    }
  } catch (const std::exception& e) {
    s->handle->callback_error = std::string("consuming the stream: ") + e.what();
    return 0;
  }
  return size * count;
}

class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient(HttpConfig config, std::string base) : config_(std::move(config)), base_(std::move(base)) {}

  ~CurlHttpClient() override = default;

  StatusOr<HttpResponse> Request(const std::string& method, const std::string& path, const std::string& body,
                                 const std::string& content_type) override {
    const std::string url = base_ + path;
    auto handle = Acquire();
    if (!handle) return Unavailable(method + " " + url + ": cannot create a libcurl handle");
    CURL* c = handle->curl;
    HttpResponse out;
    RequestBody sink{handle.get(), &out.body};
    HeaderList headers;
    bool ok = AddHeaders(&headers) && (body.empty() || headers.Add("Content-Type: " + content_type));
    // No "Expect: 100-continue" round trip for large bodies (a ledger
    // segment): the API server answers a request it refuses anyway.
    ok = ok && headers.Add("Expect:");
    if (!ok) return Unavailable(method + " " + url + ": out of memory building headers");

    // Every per-request option is set on every request: the handle carries
    // the previous request's.
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);  // back to a GET without a body
    curl_easy_setopt(c, CURLOPT_NOBODY, method == "HEAD" ? 1L : 0L);
    const bool sends_body = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
    if (sends_body) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
      if (body.empty()) headers.Add("Content-Type:");  // libcurl's form type otherwise
    }
    // libcurl's own method for GET, HEAD and POST; any other, or a GET with a
    // body (which libcurl would send as a POST), is named explicitly.
    const bool custom = !((method == "GET" && !sends_body) || method == "HEAD" || (method == "POST" && sends_body));
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, custom ? method.c_str() : nullptr);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.list);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnRequestData);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);

    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);  // `headers` dies here
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);  // and so may `body`
    if (rc != CURLE_OK) {
      Status failed = Unavailable(method + " " + url + ": " + Describe(*handle, rc));
      Release(std::move(handle));
      return failed;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    out.status = static_cast<int>(status);
    out.retry_after_seconds = handle->retry_after;
    Release(std::move(handle));
    return out;
  }

  StatusOr<HttpResponse> Stream(const std::string& path, std::chrono::milliseconds idle_timeout,
                                const std::atomic<bool>* stop,
                                const std::function<bool(std::string_view)>& on_data) override {
    const std::string what = "GET " + base_ + path;
    // A handle and a connection of its own, driven by a multi handle so that
    // *stop is looked at every kStopPollMs even while no byte arrives
    // (libcurl's progress callback slows to once a second when idle). A
    // watch holds its connection for minutes; the pool's stay for requests.
    auto handle = NewHandle();
    if (!handle) return Unavailable(what + ": cannot create a libcurl handle");
    CURL* c = handle->curl;
    HeaderList headers;
    if (!AddHeaders(&headers)) return Unavailable(what + ": out of memory building headers");
    StreamState state{handle.get(), &on_data, {}, false};
    curl_easy_setopt(c, CURLOPT_URL, (base_ + path).c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.list);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(idle_timeout.count()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnStreamData);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &state);

    std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> multi(curl_multi_init(), curl_multi_cleanup);
    if (!multi || curl_multi_add_handle(multi.get(), c) != CURLM_OK) {
      return Unavailable(what + ": cannot create a libcurl multi handle");
    }
    auto stopped = [&] { return stop && stop->load(); };
    CURLcode result = CURLE_OK;
    bool finished = false;
    while (!stopped()) {
      int running = 0;
      CURLMcode mc = curl_multi_perform(multi.get(), &running);
      if (mc != CURLM_OK) {
        curl_multi_remove_handle(multi.get(), c);
        return Unavailable(what + ": " + curl_multi_strerror(mc));
      }
      if (running == 0) {
        int left = 0;
        while (CURLMsg* m = curl_multi_info_read(multi.get(), &left)) {
          if (m->msg == CURLMSG_DONE && m->easy_handle == c) result = m->data.result;
        }
        finished = true;
        break;
      }
      curl_multi_poll(multi.get(), nullptr, 0, kStopPollMs, nullptr);
    }
    // Removing an unfinished transfer closes its connection: that is the
    // cancellation of a stopped watch.
    curl_multi_remove_handle(multi.get(), c);

    HttpResponse out;
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    out.status = static_cast<int>(status);
    out.retry_after_seconds = handle->retry_after;
    if (!finished || state.consumer_stopped) return out;  // stopped: by *stop or by on_data
    if (result != CURLE_OK) {
      if (stopped()) return HttpResponse{};
      return Unavailable(what + ": " + Describe(*handle, result));
    }
    if (out.status < 200 || out.status > 299) out.body = std::move(state.error_body);
    return out;
  }

 private:
  // A new easy handle with everything that does not change per request.
  std::unique_ptr<Handle> NewHandle() const {
    auto h = std::make_unique<Handle>();
    CURL* c = h->curl;
    if (!c) return nullptr;
    bool ok = true;
    auto set = [&ok](CURLcode rc) { ok = ok && rc == CURLE_OK; };
    set(curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->error));
    // Never a signal: the client runs on many threads of a server.
    set(curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L));
    set(curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https"));
    // The configured server and nothing else: no proxy from the environment
    // (the API server's address is the one configured, as before), no
    // redirects (the default, said here).
    set(curl_easy_setopt(c, CURLOPT_PROXY, ""));
    set(curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L));
    set(curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1));
    set(curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 1L));
    set(curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L));
    set(curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.timeout.count())));
    set(curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader));
    set(curl_easy_setopt(c, CURLOPT_HEADERDATA, h.get()));
    set(curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2)));
    set(curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, config_.insecure_skip_verify ? 0L : 1L));
    set(curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, config_.insecure_skip_verify ? 0L : 2L));
    if (!config_.ca_pem.empty()) {
      // Only this CA: no bundle file or directory beside it.
      curl_blob ca{const_cast<char*>(config_.ca_pem.data()), config_.ca_pem.size(), CURL_BLOB_COPY};
      set(curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca));
      set(curl_easy_setopt(c, CURLOPT_CAINFO, nullptr));
      set(curl_easy_setopt(c, CURLOPT_CAPATH, nullptr));
    }
    if (!config_.cert_pem.empty()) {
      curl_blob cert{const_cast<char*>(config_.cert_pem.data()), config_.cert_pem.size(), CURL_BLOB_COPY};
      curl_blob key{const_cast<char*>(config_.key_pem.data()), config_.key_pem.size(), CURL_BLOB_COPY};
      set(curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert));
      set(curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM"));
      set(curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key));
      set(curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM"));
    }
    if (!config_.user_agent.empty()) set(curl_easy_setopt(c, CURLOPT_USERAGENT, config_.user_agent.c_str()));
    return ok ? std::move(h) : nullptr;
  }

  std::unique_ptr<Handle> Acquire() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!idle_.empty()) {
        auto h = std::move(idle_.back());
        idle_.pop_back();
        h->retry_after = -1;
        h->callback_error.clear();
        h->error[0] = '\0';
        return h;
      }
    }
    return NewHandle();
  }

  void Release(std::unique_ptr<Handle> h) {
    std::lock_guard<std::mutex> l(mu_);
    if (idle_.size() < kMaxIdleHandles) idle_.push_back(std::move(h));
  }

  bool AddHeaders(HeaderList* headers) const {
    std::string token = config_.bearer_token_source ? config_.bearer_token_source() : config_.bearer_token;
    return headers->Add("Accept: application/json") && (token.empty() || headers->Add("Authorization: Bearer " + token));
  }

  static std::string Describe(const Handle& h, CURLcode rc) {
    if (!h.callback_error.empty()) return h.callback_error;
    std::string out = curl_easy_strerror(rc);
    if (h.error[0] != '\0') out += std::string(": ") + h.error;
    return out;
  }

  const HttpConfig config_;
  const std::string base_;  // base_url without a trailing '/'
  std::mutex mu_;
  std::vector<std::unique_ptr<Handle>> idle_;
};

}  // namespace

StatusOr<HttpResponse> HttpClient::Stream(const std::string& path, std::chrono::milliseconds,
                                          const std::atomic<bool>*,
                                          const std::function<bool(std::string_view)>& on_data) {
  EXECGOV_ASSIGN_OR_RETURN(HttpResponse r, Request("GET", path));
  if (r.status >= 200 && r.status <= 299) {
    on_data(r.body);
    r.body.clear();
  }
  return r;
}

StatusOr<std::unique_ptr<HttpClient>> NewHttpClient(const HttpConfig& c) {
  EXECGOV_RETURN_IF_ERROR(InitCurlOnce());
  const std::string what = "HTTP client for \"" + c.base_url + "\": ";
  // Checked here, once, rather than failing every request later.
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> url(curl_url(), curl_url_cleanup);
  if (!url) return Internal(what + "out of memory");
  if (CURLUcode rc = curl_url_set(url.get(), CURLUPART_URL, c.base_url.c_str(), 0); rc != CURLUE_OK) {
    return InvalidArgument(what + curl_url_strerror(rc));
  }
  char* scheme = nullptr;
  if (curl_url_get(url.get(), CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) return InvalidArgument(what + "no scheme");
  std::string s = scheme;
  curl_free(scheme);
  if (s != "https" && s != "http") return InvalidArgument(what + "the scheme must be https or http");
  if (c.cert_pem.empty() != c.key_pem.empty()) {
    return InvalidArgument(what + "a client certificate needs its key, and a key its certificate");
  }
  std::string base = c.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return std::unique_ptr<HttpClient>(new CurlHttpClient(c, std::move(base)));
}

}  // namespace execgov::kube
