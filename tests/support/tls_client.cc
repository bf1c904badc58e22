#include "support/tls_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace execgov::testing {

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::unique_ptr<TlsConnection> TlsConnection::Connect(int port, const std::string& ca_file, std::string* error,
                                                      int max_version, int min_version, int handshake_timeout_ms) {
  std::unique_ptr<TlsConnection> c(new TlsConnection());
  c->fd_ = ConnectLoopback(port);
  if (c->fd_ < 0) {
    *error = "connect failed";
    return nullptr;
  }
  c->ctx_ = SSL_CTX_new(TLS_client_method());
  if (max_version) {
    // Allow the old protocol on our side, so that only the server can refuse it.
    SSL_CTX_set_security_level(c->ctx_, 0);
    SSL_CTX_set_cipher_list(c->ctx_, "DEFAULT@SECLEVEL=0");
    SSL_CTX_set_min_proto_version(c->ctx_, min_version ? min_version : max_version);
    SSL_CTX_set_max_proto_version(c->ctx_, max_version);
  }
  if (!ca_file.empty()) {
    SSL_CTX_load_verify_locations(c->ctx_, ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
  }
  // The handshake blocks: bounded by socket timeouts, cleared after it.
  auto set_timeouts = [&](int ms) {
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    ::setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(c->fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  };
  set_timeouts(handshake_timeout_ms);
  c->ssl_ = SSL_new(c->ctx_);
  SSL_set_fd(c->ssl_, c->fd_);
  if (!ca_file.empty()) SSL_set1_host(c->ssl_, "127.0.0.1");
  if (SSL_connect(c->ssl_) != 1) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    *error = std::string("handshake failed: ") + buf;
    ERR_clear_error();
    return nullptr;
  }
  set_timeouts(0);
  // Non-blocking from here on: a readable socket may carry only a session
  // ticket, and a blocking SSL_read would then wait past every deadline.
  ::fcntl(c->fd_, F_SETFL, ::fcntl(c->fd_, F_GETFL) | O_NONBLOCK);
  return c;
}

TlsConnection::~TlsConnection() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

bool TlsConnection::Send(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    int n = SSL_write(ssl_, bytes.data() + off, static_cast<int>(std::min<size_t>(bytes.size() - off, 1 << 20)));
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ) return false;
    pollfd p{fd_, static_cast<short>(err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
    if (::poll(&p, 1, 10000) <= 0) return false;
  }
  return true;
}

bool TlsConnection::Read(HttpResponse* out, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto fill = [&]() -> int {  // 1 data, 0 closed, -1 error/timeout
    if (SSL_pending(ssl_) == 0) {
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now()).count());
      if (left <= 0) return -1;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) return -1;
    }
    char buf[16384];
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      buffered_.append(buf, static_cast<size_t>(n));
      return 1;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ) return 1;
    return 0;
  };
  size_t header_end;
  while ((header_end = buffered_.find("\r\n\r\n")) == std::string::npos) {
    if (fill() != 1) return false;
  }
  std::string head = buffered_.substr(0, header_end);
  buffered_.erase(0, header_end + 4);
  *out = HttpResponse();
  size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  if (status_line.size() < 12) return false;
  out->status = std::stoi(status_line.substr(9, 3));
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    std::string line = head.substr(pos, end - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      out->headers[name] = value;
    }
    pos = end + 2;
  }
  auto cl = out->headers.find("content-length");
  if (cl != out->headers.end()) {
    size_t want = std::stoul(cl->second);
    while (buffered_.size() < want) {
      if (fill() != 1) return false;
    }
    out->body = buffered_.substr(0, want);
    buffered_.erase(0, want);
  } else {
    while (fill() == 1) {
    }
    out->body = std::move(buffered_);
    buffered_.clear();
  }
  return true;
}

bool TlsConnection::Post(const std::string& path, const std::string& body, HttpResponse* out) {
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  return Send(req) && Read(out);
}

std::string TlsConnection::PeerCertificateFingerprint() const {
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (!cert) return "";
  unsigned char md[32];
  unsigned int len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  X509_free(cert);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace execgov::testing
