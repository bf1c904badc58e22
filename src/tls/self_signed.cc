#include "tls/self_signed.h"

#include <sys/stat.h>

#include <ctime>
#include <filesystem>

#include "core/file.h"
#include "tls/certificate_authority.h"

namespace execgov::tls {
namespace {

constexpr std::chrono::seconds kValidity{365 * 86400};

bool StillValid(const std::string& cert_path) {
  auto pem = ReadFile(cert_path, 1 << 20);
  if (!pem.ok()) return false;
  auto info = InspectCertificate(*pem);
  return info.ok() && info->not_after > static_cast<int64_t>(time(nullptr)) + 86400;
}

}  // namespace

StatusOr<GeneratedFiles> EnsureSelfSignedCertificates(const std::string& dir, const std::vector<std::string>& hosts) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return InvalidArgument("cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  GeneratedFiles files{dir + "/ca.crt", dir + "/tls.crt", dir + "/tls.key", false};
  if (StillValid(files.ca_cert) && StillValid(files.cert) && std::filesystem::exists(files.key)) return files;

  int64_t now = static_cast<int64_t>(time(nullptr));
  // The CA key is discarded once the certificate is signed: nothing else is
  // ever signed with it.
  EXECGOV_ASSIGN_OR_RETURN(CertificateAndKey ca, CreateCertificateAuthority("execgov standalone CA", now, kValidity));
  EXECGOV_ASSIGN_OR_RETURN(CertificateAndKey serving, IssueServingCertificate(ca, hosts, now, kValidity));
  EXECGOV_RETURN_IF_ERROR(WriteFileAtomic(files.key, serving.key_pem, 0600));
  EXECGOV_RETURN_IF_ERROR(WriteFileAtomic(files.cert, serving.cert_pem + ca.cert_pem, 0644));
  EXECGOV_RETURN_IF_ERROR(WriteFileAtomic(files.ca_cert, ca.cert_pem, 0644));
  files.created = true;
  return files;
}

}  // namespace execgov::tls
