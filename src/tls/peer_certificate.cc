#include "tls/peer_certificate.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>

#include "tls/certificate_authority.h"

namespace execgov::tls {
namespace {

// A TCP connection with a connect timeout, and the same limit on each read
// and write afterwards.
StatusOr<int> Connect(const std::string& host, int port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
    return Unavailable("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  std::string last = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, static_cast<int>(timeout.count())) == 1 ? 0 : -1;
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)) {
        errno = err;
        rc = -1;
      } else if (rc != 0) {
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      freeaddrinfo(res);
      return fd;
    }
    last = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(res);
  return Unavailable("cannot connect to " + host + ":" + std::to_string(port) + ": " + last);
}

}  // namespace

StatusOr<std::string> PeerCertificateFingerprint(const std::string& host, int port, const std::string& server_name,
                                                 std::chrono::milliseconds timeout) {
  EXECGOV_ASSIGN_OR_RETURN(int fd, Connect(host, port, timeout));
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = ctx ? SSL_new(ctx) : nullptr;
  std::string where = host + ":" + std::to_string(port);
  StatusOr<std::string> result = Unavailable("TLS handshake with " + where + " failed");
  if (ssl) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    if (!server_name.empty()) SSL_set_tlsext_host_name(ssl, server_name.c_str());
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      X509* peer = SSL_get1_peer_certificate(ssl);
      unsigned char* der = nullptr;
      int len = peer ? i2d_X509(peer, &der) : -1;
      if (len > 0) {
        result = CertificateFingerprint(std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
      } else {
        result = Unavailable(where + " presented no certificate");
      }
      OPENSSL_free(der);
      X509_free(peer);
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
  }
  SSL_CTX_free(ctx);
  close(fd);
  return result;
}

}  // namespace execgov::tls
