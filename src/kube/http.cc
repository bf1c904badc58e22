#include "kube/http.h"

#include <boost/asio/ssl.hpp>
#include <cpprest/http_client.h>

namespace execgov::kube {
namespace {

namespace http = web::http;

class CppRestHttpClient final : public HttpClient {
 public:
  CppRestHttpClient(std::unique_ptr<http::client::http_client> client, std::string token)
      : client_(std::move(client)), token_(std::move(token)) {}

  StatusOr<HttpResponse> Request(const std::string& method, const std::string& path, const std::string& body,
                                 const std::string& content_type) override {
    try {
      http::http_request req(method);
      req.set_request_uri(path);
      if (!body.empty()) req.set_body(body, content_type);
      req.headers().add("Accept", "application/json");
      if (!token_.empty()) req.headers().add("Authorization", "Bearer " + token_);
      http::http_response resp = client_->request(req).get();
      HttpResponse out;
      out.status = resp.status_code();
      auto bytes = resp.extract_vector().get();
      out.body.assign(bytes.begin(), bytes.end());
      return out;
    } catch (const std::exception& e) {
      return Unavailable(method + " " + client_->base_uri().to_string() + path + ": " + e.what());
    }
  }

 private:
  std::unique_ptr<http::client::http_client> client_;
  std::string token_;
};

}  // namespace

StatusOr<std::unique_ptr<HttpClient>> NewHttpClient(const HttpConfig& c) {
  try {
    http::client::http_client_config config;
    config.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(c.timeout));
    config.set_validate_certificates(!c.insecure_skip_verify);
    if (!c.ca_pem.empty() || !c.cert_pem.empty()) {
      // Copies, not references: the callback runs on cpprestsdk's threads for
      // every new connection, long after this function returned.
      config.set_ssl_context_callback([ca = c.ca_pem, cert = c.cert_pem, key = c.key_pem](
                                          boost::asio::ssl::context& ctx) {
        if (!ca.empty()) ctx.add_certificate_authority(boost::asio::buffer(ca));
        if (!cert.empty()) {
          ctx.use_certificate_chain(boost::asio::buffer(cert));
          ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
        }
      });
    }
    auto client = std::make_unique<http::client::http_client>(web::uri(c.base_url), config);
    return std::unique_ptr<HttpClient>(new CppRestHttpClient(std::move(client), c.bearer_token));
  } catch (const std::exception& e) {
    return InvalidArgument("HTTP client for \"" + c.base_url + "\": " + e.what());
  }
}

}  // namespace execgov::kube
