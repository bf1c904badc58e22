#include "webhook/https_server.h"

#include <boost/asio/ssl.hpp>
#include <cpprest/http_listener.h>

#include <algorithm>
#include <cctype>

#include "core/log.h"

namespace execgov::webhook {

namespace http = web::http;
using web::http::experimental::listener::http_listener;
using web::http::experimental::listener::http_listener_config;

class Listener {
 public:
  Listener(const std::string& uri, const http_listener_config& config) : listener(uri, config) {}
  http_listener listener;
};

namespace {

void ReplyStatus(const http::http_request& req, http::status_code code, const std::string& message) {
  nlohmann::json body = {{"apiVersion", "v1"}, {"kind", "Status"}, {"status", "Failure"},
                         {"message", message}, {"code", code}};
  http::http_response resp(code);
  resp.set_body(body.dump(), "application/json");
  req.reply(resp).then([](pplx::task<void> t) {
    try {
      t.get();
    } catch (...) {  // the client went away: nothing to do
    }
  });
}

void ReplyJson(const http::http_request& req, http::status_code code, const std::string& body,
               const std::string& content_type = "application/json") {
  http::http_response resp(code);
  resp.set_body(body, content_type);
  req.reply(resp).then([](pplx::task<void> t) {
    try {
      t.get();
    } catch (...) {
    }
  });
}

bool IsJsonContentType(std::string ct) {
  std::transform(ct.begin(), ct.end(), ct.begin(), [](unsigned char c) { return std::tolower(c); });
  return ct.rfind("application/json", 0) == 0;
}

void HandleValidate(AdmissionHandler* handler, http::http_request req) {
  if (req.method() != http::methods::POST) {
    http::http_response resp(http::status_codes::MethodNotAllowed);
    resp.headers().add("Allow", "POST");
    resp.set_body(R"({"apiVersion":"v1","kind":"Status","status":"Failure","message":"use POST","code":405})",
                  "application/json");
    req.reply(resp).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (...) {
      }
    });
    return;
  }
  if (!IsJsonContentType(req.headers().content_type())) {
    ReplyStatus(req, http::status_codes::UnsupportedMediaType, "Content-Type must be application/json");
    return;
  }
  if (!req.headers().has(http::header_names::content_length)) {
    ReplyStatus(req, http::status_codes::LengthRequired, "a Content-Length is required");
    return;
  }
  if (req.headers().content_length() > kMaxBodyBytes) {
    ReplyStatus(req, http::status_codes::RequestEntityTooLarge,
                "the request body is larger than the limit of " + std::to_string(kMaxBodyBytes) + " bytes");
    return;
  }
  req.extract_string(true).then([handler, req](pplx::task<std::string> body_task) {
    std::string body;
    try {
      body = body_task.get();
    } catch (const std::exception& e) {
      ReplyStatus(req, http::status_codes::BadRequest, std::string("cannot read the request body: ") + e.what());
      return;
    }
    auto decoded = DecodeAdmissionReview(body);
    if (!decoded.ok()) {
      ReplyStatus(req, http::status_codes::BadRequest, decoded.status().message());
      return;
    }
    ReplyJson(req, http::status_codes::OK, EncodeAdmissionReview(handler->Handle(*decoded)));
  });
}

StatusOr<std::unique_ptr<Listener>> Open(const std::string& scheme, const std::string& listen,
                                         const http_listener_config& config,
                                         std::function<void(http::http_request)> handle) {
  EXECGOV_ASSIGN_OR_RETURN(auto addr, ParseListenAddress(listen));
  std::string uri = scheme + "://" + addr.first + ":" + std::to_string(addr.second) + "/";
  try {
    auto l = std::make_unique<Listener>(uri, config);
    l->listener.support([handle](http::http_request req) {
      try {
        handle(req);
      } catch (const std::exception& e) {
        log::Error("http: unexpected error", {{"error", e.what()}});
        ReplyStatus(req, http::status_codes::InternalError, "internal error");
      }
    });
    l->listener.open().wait();
    return l;
  } catch (const std::exception& e) {
    return Unavailable("cannot listen on " + listen + ": " + e.what());
  }
}

}  // namespace

StatusOr<std::pair<std::string, int>> ParseListenAddress(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("listen address \"" + listen + "\" is not HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  std::string port_text = listen.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), [](unsigned char c) { return std::isdigit(c); }) ||
      (port = std::stoi(port_text)) <= 0 || port > 65535) {
    return InvalidArgument("listen address \"" + listen + "\" has no valid port");
  }
  return std::make_pair(host, port);
}

StatusOr<std::unique_ptr<WebhookServer>> WebhookServer::Start(const std::string& listen,
                                                              tls::CredentialStore* credentials,
                                                              AdmissionHandler* handler) {
  http_listener_config config;
  // A client that stalls mid-request is cut off rather than held forever.
  config.set_timeout(std::chrono::seconds(30));
  config.set_ssl_context_callback([credentials](boost::asio::ssl::context& ctx) {
    // Called for each new connection: a rotated certificate applies to new
    // connections at once while open ones finish with the old one.
    Status st = credentials->Configure(ctx.native_handle());
    if (!st.ok()) log::Error("tls: cannot configure a connection", {{"error", st.message()}});
  });
  auto listener = Open("https", listen, config, [handler](http::http_request req) {
    const std::string path = req.relative_uri().path();
    if (path == "/validate") {
      HandleValidate(handler, req);
    } else if (path == "/ping") {
      ReplyJson(req, http::status_codes::OK, "ok\n", "text/plain");
    } else {
      ReplyStatus(req, http::status_codes::NotFound, "no such path; the admission endpoint is POST /validate");
    }
  });
  if (!listener.ok()) return listener.status();
  std::unique_ptr<WebhookServer> server(new WebhookServer());
  server->listener_ = std::move(listener).value();
  return server;
}

WebhookServer::~WebhookServer() {
  try {
    if (listener_) listener_->listener.close().wait();
  } catch (...) {
  }
}

StatusOr<std::unique_ptr<OpsServer>> OpsServer::Start(const std::string& listen, metrics::Metrics* metrics,
                                                      std::function<bool()> ready) {
  http_listener_config config;
  config.set_timeout(std::chrono::seconds(30));
  auto listener = Open("http", listen, config, [metrics, ready](http::http_request req) {
    const std::string path = req.relative_uri().path();
    if (req.method() != http::methods::GET) {
      ReplyStatus(req, http::status_codes::MethodNotAllowed, "use GET");
    } else if (path == "/metrics") {
      ReplyJson(req, http::status_codes::OK, metrics->Serialize(), "text/plain; version=0.0.4; charset=utf-8");
    } else if (path == "/healthz") {
      ReplyJson(req, http::status_codes::OK, "ok\n", "text/plain");
    } else if (path == "/readyz") {
      if (ready()) ReplyJson(req, http::status_codes::OK, "ok\n", "text/plain");
      else ReplyJson(req, http::status_codes::ServiceUnavailable, "policies not loaded\n", "text/plain");
    } else {
      ReplyStatus(req, http::status_codes::NotFound, "no such path: /metrics, /healthz and /readyz are served here");
    }
  });
  if (!listener.ok()) return listener.status();
  std::unique_ptr<OpsServer> server(new OpsServer());
  server->listener_ = std::move(listener).value();
  return server;
}

OpsServer::~OpsServer() {
  try {
    if (listener_) listener_->listener.close().wait();
  } catch (...) {
  }
}

}  // namespace execgov::webhook
