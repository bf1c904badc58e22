// HTTP/1.1 on Boost.Beast. Beast rather than cpprestsdk's listener: the
// listener reads a whole request body before a handler may answer and has no
// body limit, so a client could make it buffer any amount; Beast's parser
// refuses an oversized body from its headers, and every read and write here
// has a deadline, so a stalled client costs one idle socket and no thread.
#include "webhook/https_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <optional>
#include <thread>
#include <vector>

#include "core/log.h"
#include "core/thread.h"

namespace execgov::webhook {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using ReplyFn = std::function<void(Response)>;
// Answers a request through `reply`, exactly once, from any thread: at once,
// or later (an admission answers once its ledger record is durable). The
// header-only route may answer before the body is read (limits, method,
// content type), returning nullopt to read on.
using Route = std::function<void(Request&&, ReplyFn)>;
using EarlyRoute = std::function<std::optional<Response>(const http::request_header<>&)>;

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kRequestTimeout = std::chrono::seconds(30);
constexpr auto kIdleTimeout = std::chrono::seconds(90);
// How long a stopping server waits for the answers still being decided.
constexpr auto kDrainTimeout = std::chrono::seconds(10);

// Requests between their route and their reply, and whether a reply may
// still reach the I/O threads: a reply can come from another thread (the
// ledger's writer) after the server began to stop, and must then be dropped
// rather than posted to an io_context that is gone.
class Gate {
 public:
  void Enter() {
    std::lock_guard lock(mu_);
    ++in_flight_;
  }
  // Runs `post` if the server still runs, then counts the request as
  // answered. `post` runs outside the lock (it may write to the socket
  // inline); until the count drops, Drain either waits for it or gives up
  // and leaves the io_context allocated, so what it posts to stays valid.
  template <class F>
  void Leave(F&& post) {
    bool open;
    {
      std::lock_guard lock(mu_);
      open = open_;
    }
    if (open) post();
    std::lock_guard lock(mu_);
    if (--in_flight_ == 0) cv_.notify_all();
  }
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  // Stops keep-alive connections from starting new requests, waits up to
  // `timeout` for those in flight, then closes the gate.
  // Returns how many were still unanswered.
  int Drain(std::chrono::seconds timeout) {
    draining_ = true;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return in_flight_ == 0; });
    open_ = false;
    return in_flight_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  bool open_ = true;
  std::atomic<bool> draining_{false};
};

Response MakeResponse(http::status code, std::string body, const std::string& content_type) {
  Response r{code, 11};
  r.set(http::field::server, "execgov");
  r.set(http::field::content_type, content_type);
  r.body() = std::move(body);
  r.prepare_payload();
  return r;
}

Response StatusResponse(http::status code, const std::string& message) {
  nlohmann::json body = {{"apiVersion", "v1"},  {"kind", "Status"},  {"status", "Failure"},
                         {"message", message}, {"code", static_cast<int>(code)}};
  return MakeResponse(code, body.dump(), "application/json");
}

// A listener's open connections against its cap. The accept loop pauses at
// the cap (new connections wait in the kernel's backlog) and the connection
// that closes first resumes it: nothing spins while the server is full.
// Shared with the sessions, which the io_context may destroy after the
// listener stopped accepting.
class ConnectionSlots : public std::enable_shared_from_this<ConnectionSlots> {
 public:
  explicit ConnectionSlots(int max) : max_(max) {}

  // Held by a session for its lifetime.
  struct Slot {
    std::shared_ptr<ConnectionSlots> slots;
    ~Slot() { slots->Release(); }
  };

  std::shared_ptr<Slot> Take() {
    {
      std::lock_guard lock(mu_);
      ++open_;
    }
    auto slot = std::make_shared<Slot>();
    slot->slots = shared_from_this();
    return slot;
  }
  // Whether the cap is reached; if so `resume` runs once a slot frees up
  // (it posts the next accept), unless Stop() came first.
  bool PauseIfFull(std::function<void()> resume) {
    std::lock_guard lock(mu_);
    if (open_ < max_) return false;
    resume_ = std::move(resume);
    return true;
  }
  void Stop() {
    std::lock_guard lock(mu_);
    stopped_ = true;
    resume_ = nullptr;
  }

 private:
  void Release() {
    std::function<void()> resume;
    {
      std::lock_guard lock(mu_);
      --open_;
      if (stopped_ || !resume_) return;
      resume = std::move(resume_);
      resume_ = nullptr;
    }
    resume();
  }

  std::mutex mu_;
  const int max_;
  int open_ = 0;
  bool stopped_ = false;
  std::function<void()> resume_;  // set while the accept loop is paused
};

// One connection: optional TLS handshake, then requests until the peer stops
// keeping alive, with a deadline on every step.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, std::shared_ptr<ssl::context> tls, const Route& route, const EarlyRoute& early,
          std::shared_ptr<Gate> gate, std::shared_ptr<ConnectionSlots::Slot> slot, size_t body_limit)
      : body_limit_(body_limit),
        stream_(std::move(stream)),
        tls_(std::move(tls)),
        route_(route),
        early_(early),
        gate_(std::move(gate)),
        slot_(std::move(slot)) {}

  void Run() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (!ec) self->ReadHeader(kHandshakeTimeout);
      });
    } else {
      ReadHeader(kRequestTimeout);
    }
  }

 private:
  void ReadHeader(std::chrono::seconds timeout) {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(body_limit_);
    chunk_extension_bytes_ = 0;
    parser_->on_chunk_header(on_chunk_header_);
    beast::get_lowest_layer(stream_).expires_after(timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    if (auto refused = CheckFields(/*with_trailers=*/false)) return Reply(std::move(*refused), false);
    if (auto early = early_(parser_->get().base())) return Reply(std::move(*early), false);
    beast::get_lowest_layer(stream_).expires_after(kRequestTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  // A read that failed: a limit or a malformed message is answered (and the
  // connection closed, nothing more read); a timeout or a peer that went
  // away just closes.
  void OnReadError(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      return Reply(StatusResponse(http::status::request_header_fields_too_large,
                                  "the request line and header fields are larger than the limit of " +
                                      std::to_string(kMaxHeaderBytes) + " bytes"),
                   false);
    }
    if (ec == http::error::body_limit) return Reply(StatusResponse(http::status::payload_too_large, TooLarge()), false);
    if (ec == http::error::bad_chunk_extension && chunk_extension_bytes_ > kMaxChunkExtensionBytes) {
      return Reply(StatusResponse(http::status::bad_request, "the request's chunk extensions are larger than the limit of " +
                                                                 std::to_string(kMaxChunkExtensionBytes) + " bytes"),
                   false);
    }
    if (ec == http::error::buffer_overflow) {
      return Reply(StatusResponse(http::status::bad_request,
                                  "a chunk-size line or the trailer section is larger than the limit of " +
                                      std::to_string(kMaxReadBufferBytes) + " bytes"),
                   false);
    }
    // Beast's other parse errors are the client's malformed HTTP; the end of
    // the stream before or inside a message is not worth an answer.
    if (ec.category() == http::make_error_code(http::error::bad_method).category() && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      return Reply(StatusResponse(http::status::bad_request, "malformed HTTP request: " + ec.message()), false);
    }
    Close();
  }

  // The header fields (and with the trailers, all fields) against
  // kMaxHeaderFields and kMaxHeaderBytes: a 431 answer, or nullopt.
  std::optional<Response> CheckFields(bool with_trailers) const {
    size_t count = 0, bytes = 0;
    for (const auto& f : parser_->get().base()) {
      ++count;
      bytes += f.name_string().size() + f.value().size() + 4;  // ": " and CRLF
    }
    const char* what = with_trailers ? "header and trailer fields" : "header fields";
    if (count > kMaxHeaderFields) {
      return StatusResponse(http::status::request_header_fields_too_large,
                            std::string("the request has more ") + what + " than the limit of " +
                                std::to_string(kMaxHeaderFields));
    }
    if (bytes > kMaxHeaderBytes) {
      return StatusResponse(http::status::request_header_fields_too_large,
                            std::string("the request's ") + what + " are larger than the limit of " +
                                std::to_string(kMaxHeaderBytes) + " bytes");
    }
    return std::nullopt;
  }

  void OnBody(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    if (auto refused = CheckFields(/*with_trailers=*/true)) return Reply(std::move(*refused), false);
    Request req = parser_->release();
    bool keep_alive = req.keep_alive();
    gate_->Enter();
    // The reply may come from another thread: it goes back through this
    // connection's strand, and only once (a route that threw after replying
    // must not reply twice).
    auto replied = std::make_shared<std::atomic<bool>>(false);
    ReplyFn reply = [self = this->shared_from_this(), keep_alive, replied](Response resp) {
      if (replied->exchange(true)) return;
      self->gate_->Leave([&] {
        net::dispatch(self->stream_.get_executor(), [self, keep_alive, resp = std::move(resp)]() mutable {
          self->Reply(std::move(resp), keep_alive);
        });
      });
    };
    try {
      route_(std::move(req), reply);
    } catch (const std::exception& e) {
      log::Error("http: unexpected error", {{"error", e.what()}});
      reply(StatusResponse(http::status::internal_server_error, "internal error"));
    }
  }

  void Reply(Response resp, bool keep_alive) {
    resp.keep_alive(keep_alive);
    response_ = std::make_shared<Response>(std::move(resp));
    beast::get_lowest_layer(stream_).expires_after(kRequestTimeout);
    http::async_write(stream_, *response_, [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
      if (ec || !keep_alive || self->gate_->draining()) return self->Close();
      self->ReadHeader(kIdleTimeout);
    });
  }

  void Close() {
    beast::error_code ignored;
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code e;
        beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_both, e);
      });
    } else {
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    }
  }

  std::string TooLarge() const {
    return "the request body is larger than the limit of " + std::to_string(body_limit_) + " bytes";
  }

  const size_t body_limit_;
  Stream stream_;
  std::shared_ptr<ssl::context> tls_;  // kept alive as long as the stream uses it
  const Route& route_;        // the listener's, which outlives every session
  const EarlyRoute& early_;
  std::shared_ptr<Gate> gate_;
  std::shared_ptr<ConnectionSlots::Slot> slot_;  // freed when the session is
  beast::flat_buffer buffer_{kMaxReadBufferBytes};
  std::optional<http::request_parser<http::string_body>> parser_;
  // Counts the request's chunk extensions as the parser meets them; past the
  // limit the parse stops with bad_chunk_extension.
  size_t chunk_extension_bytes_ = 0;
  std::function<void(uint64_t, beast::string_view, beast::error_code&)> on_chunk_header_ =
      [this](uint64_t, beast::string_view extensions, beast::error_code& ec) {
        chunk_extension_bytes_ += extensions.size();
        if (chunk_extension_bytes_ > kMaxChunkExtensionBytes) ec = http::error::bad_chunk_extension;
      };
  std::shared_ptr<Response> response_;
};

// The path of a request target, without the query: the API server calls
// "/validate?timeout=10s".
std::string_view PathOf(beast::string_view target) {
  std::string_view t(target.data(), target.size());
  return t.substr(0, t.find('?'));
}

bool IsJsonContentType(std::string ct) {
  std::transform(ct.begin(), ct.end(), ct.begin(), [](unsigned char c) { return std::tolower(c); });
  return ct.rfind("application/json", 0) == 0;
}

}  // namespace

// An acceptor and the threads that run every connection's I/O and handlers.
class Listener {
 public:
  Listener(tls::CredentialStore* credentials, Route route, EarlyRoute early, int max_connections,
           size_t body_limit = kMaxBodyBytes)
      : body_limit_(body_limit),
        credentials_(credentials),
        route_(std::move(route)),
        early_(std::move(early)),
        gate_(std::make_shared<Gate>()),
        slots_(std::make_shared<ConnectionSlots>(max_connections)),
        io_(std::make_unique<net::io_context>()),
        acceptor_(net::make_strand(*io_)),
        backoff_(acceptor_.get_executor()) {}

  Status Open(const std::string& host, int port, int threads) {
    beast::error_code ec;
    auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) return InvalidArgument("listen address \"" + host + "\" is not an IP address");
    tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return Unavailable("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
    port_ = acceptor_.local_endpoint(ec).port();
    Accept();
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] {
      SetThreadName("http-io");
      io_->run();
    });
    return Status::Ok();
  }

  int port() const { return port_; }

  // Stops accepting, lets the requests in flight be answered (up to
  // kDrainTimeout), then stops the I/O threads.
  ~Listener() {
    slots_->Stop();
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      backoff_.cancel();
    });
    int unanswered = threads_.empty() ? 0 : gate_->Drain(kDrainTimeout);
    io_->stop();
    for (auto& t : threads_) t.join();
    if (unanswered > 0) {
      // Their answers may still come (a ledger write stuck past the drain
      // timeout) and would release connections registered with this
      // io_context: it is left allocated, so a late answer frees nothing twice.
      log::Error("http: stopped with requests unanswered", {{"requests", unanswered}});
      beast::error_code ec;
      acceptor_.close(ec);
      (void)io_.release();
    }
  }

 private:
  // Runs on the acceptor's strand, one accept at a time.
  void Accept() {
    acceptor_.async_accept(net::make_strand(*io_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
      if (ec) {
        // Out of descriptors (EMFILE, ENFILE) or memory, or the peer gone
        // before the accept: try again after a pause rather than at once,
        // which would spin as long as the condition lasts.
        if (!backing_off_) log::Warn("http: accept failed; pausing accepts", {{"error", ec.message()}});
        backing_off_ = true;
        backoff_.expires_after(kAcceptBackoff);
        backoff_.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec && acceptor_.is_open()) Accept();
        });
        return;
      }
      backing_off_ = false;
      Start(std::move(socket), slots_->Take());
      auto executor = acceptor_.get_executor();
      if (slots_->PauseIfFull([this, executor] { net::post(executor, [this] { Accept(); }); })) return;
      Accept();
    });
  }

  void Start(tcp::socket socket, std::shared_ptr<ConnectionSlots::Slot> slot) {
    socket.set_option(tcp::no_delay(true));
    if (!credentials_) {
      std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), nullptr, route_, early_, gate_,
                                                   std::move(slot), body_limit_)
          ->Run();
      return;
    }
    // A context per connection: each new connection gets the certificate
    // current at that moment, so rotation needs no restart and open
    // connections finish with the one they started with.
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    Status st = credentials_->Configure(ctx->native_handle());
    if (!st.ok()) {
      log::Error("tls: cannot configure a connection", {{"error", st.message()}});
      return;  // closing the socket refuses the client: fail closed
    }
    std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
        beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *ctx), ctx, route_, early_, gate_,
        std::move(slot), body_limit_)
        ->Run();
  }

  static constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

  const size_t body_limit_;
  int port_ = 0;
  tls::CredentialStore* credentials_;
  const Route route_;
  const EarlyRoute early_;
  std::shared_ptr<Gate> gate_;
  std::shared_ptr<ConnectionSlots> slots_;
  std::unique_ptr<net::io_context> io_;
  tcp::acceptor acceptor_;     // on a strand: accepts, resumes and the close never overlap
  net::steady_timer backoff_;  // the pause after a failed accept
  bool backing_off_ = false;
  std::vector<std::thread> threads_;
};

namespace {

// Splits HOST:PORT; port 0 only where the caller allows it.
StatusOr<std::pair<std::string, int>> ParseHostPort(const std::string& listen, bool allow_zero) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("listen address \"" + listen + "\" is not HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  std::string port_text = listen.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), [](unsigned char c) { return std::isdigit(c); }) ||
      (port = std::stoi(port_text)) < (allow_zero ? 0 : 1) || port > 65535) {
    return InvalidArgument("listen address \"" + listen + "\" has no valid port");
  }
  return std::make_pair(host, port);
}

StatusOr<std::unique_ptr<Listener>> OpenListener(const std::string& listen, tls::CredentialStore* credentials, Route route,
                                                 EarlyRoute early, int threads, int max_connections,
                                                 size_t body_limit = kMaxBodyBytes, bool allow_port_zero = false) {
  EXECGOV_ASSIGN_OR_RETURN(auto addr, ParseHostPort(listen, allow_port_zero));
  auto l = std::make_unique<Listener>(credentials, std::move(route), std::move(early), max_connections, body_limit);
  EXECGOV_RETURN_IF_ERROR(l->Open(addr.first, addr.second, threads));
  return l;
}

}  // namespace

int EffectiveMaxConnections(int requested) {
  int cap = std::max(1, requested);
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    // A quarter of a small limit is reserve enough: under 256 descriptors a
    // reserve of 256 would leave a single connection.
    long long cur = static_cast<long long>(limit.rlim_cur);
    long long room = cur - std::min<long long>(kReservedDescriptors, cur / 4);
    cap = static_cast<int>(std::max<long long>(1, std::min<long long>(cap, room)));
  }
  return cap;
}

StatusOr<std::pair<std::string, int>> ParseListenAddress(const std::string& listen) {
  return ParseHostPort(listen, /*allow_zero=*/false);
}

StatusOr<std::unique_ptr<WebhookServer>> WebhookServer::Start(const std::string& listen,
                                                              tls::CredentialStore* credentials,
                                                              AdmissionHandler* handler, int io_threads,
                                                              int max_connections) {
  EarlyRoute early = [](const http::request_header<>& h) -> std::optional<Response> {
    std::string_view path = PathOf(h.target());
    if (path == "/ping") return std::nullopt;
    if (path != "/validate") {
      return StatusResponse(http::status::not_found, "no such path; the admission endpoint is POST /validate");
    }
    if (h.method() != http::verb::post) {
      Response r = StatusResponse(http::status::method_not_allowed, "use POST");
      r.set(http::field::allow, "POST");
      return r;
    }
    if (!IsJsonContentType(std::string(h[http::field::content_type]))) {
      return StatusResponse(http::status::unsupported_media_type, "Content-Type must be application/json");
    }
    return std::nullopt;
  };
  Route route = [handler](Request&& req, ReplyFn reply) {
    if (PathOf(req.target()) == "/ping") return reply(MakeResponse(http::status::ok, "ok\n", "text/plain"));
    auto decoded = DecodeAdmissionReview(req.body());
    if (!decoded.ok()) return reply(StatusResponse(http::status::bad_request, decoded.status().message()));
    handler->Handle(*decoded, [reply = std::move(reply)](AdmissionResponse r) {
      reply(MakeResponse(http::status::ok, EncodeAdmissionReview(r), "application/json"));
    });
  };
  const int cap = EffectiveMaxConnections(max_connections);
  if (cap < max_connections) {
    log::Warn("http: fewer connections than asked for: the descriptor limit (RLIMIT_NOFILE) allows no more",
              {{"maxConnections", cap}, {"asked", max_connections}});
  }
  auto listener = OpenListener(listen, credentials, route, early, std::max(1, io_threads), cap);
  if (!listener.ok()) return listener.status();
  std::unique_ptr<WebhookServer> server(new WebhookServer());
  server->listener_ = std::move(listener).value();
  return server;
}

WebhookServer::~WebhookServer() = default;

StatusOr<std::unique_ptr<OpsServer>> OpsServer::Start(const std::string& listen, metrics::Metrics* metrics,
                                                      std::function<bool()> ready) {
  EarlyRoute early = [](const http::request_header<>& h) -> std::optional<Response> {
    if (h.method() != http::verb::get) return StatusResponse(http::status::method_not_allowed, "use GET");
    return std::nullopt;
  };
  auto answer = [metrics, ready](const Request& req) -> Response {
    std::string_view path = PathOf(req.target());
    if (path == "/metrics") {
      return MakeResponse(http::status::ok, metrics->Serialize(), "text/plain; version=0.0.4; charset=utf-8");
    }
    if (path == "/healthz") return MakeResponse(http::status::ok, "ok\n", "text/plain");
    if (path == "/readyz") {
      return ready() ? MakeResponse(http::status::ok, "ok\n", "text/plain")
                     : MakeResponse(http::status::service_unavailable, "policies not loaded\n", "text/plain");
    }
    return StatusResponse(http::status::not_found, "no such path: /metrics, /healthz and /readyz are served here");
  };
  Route route = [answer](Request&& req, ReplyFn reply) { reply(answer(req)); };
  auto listener = OpenListener(listen, nullptr, route, early, 2, kOpsMaxConnections);
  if (!listener.ok()) return listener.status();
  std::unique_ptr<OpsServer> server(new OpsServer());
  server->listener_ = std::move(listener).value();
  return server;
}

OpsServer::~OpsServer() = default;

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen, tls::CredentialStore* credentials,
                                                        Handler handler, int io_threads, size_t max_body_bytes,
                                                        int max_connections) {
  const size_t body_limit = std::min(max_body_bytes, kMaxBodyBytes);
  EarlyRoute early = [](const http::request_header<>&) -> std::optional<Response> { return std::nullopt; };
  Route route = [handler = std::move(handler)](Request&& req, ReplyFn reply) {
    HttpRequest in;
    in.method = std::string(req.method_string());
    in.target = std::string(req.target());
    in.content_type = std::string(req[http::field::content_type]);
    in.authorization = std::string(req[http::field::authorization]);
    in.cookie = std::string(req[http::field::cookie]);
    in.body = std::move(req.body());
    HttpResponse out = handler(in);
    Response r = MakeResponse(static_cast<http::status>(out.status), std::move(out.body), out.content_type);
    for (auto& [name, value] : out.headers) r.set(name, value);
    reply(std::move(r));
  };
  auto listener = OpenListener(listen, credentials, std::move(route), std::move(early), std::max(1, io_threads),
                               EffectiveMaxConnections(max_connections), body_limit, /*allow_port_zero=*/true);
  if (!listener.ok()) return listener.status();
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->port_ = (*listener)->port();
  server->listener_ = std::move(listener).value();
  return server;
}

HttpServer::~HttpServer() = default;

}  // namespace execgov::webhook
