#include "crypto/pkcs11.h"

#include <dlfcn.h>
#include <openssl/crypto.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "core/file.h"
#include "crypto/sha256.h"

// Included last: the header #defines the standard names over its own and
// #undefs them again at its end.
#include <p11-kit/pkcs11.h>

namespace execgov::crypto {
namespace {

constexpr size_t kMaxUriBytes = 4096;
constexpr size_t kMaxPinBytes = 256;

std::string RvName(CK_RV rv) {
  switch (rv) {
    case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
    case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
    case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
    case CKR_DEVICE_REMOVED: return "CKR_DEVICE_REMOVED";
    case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
    case CKR_SESSION_CLOSED: return "CKR_SESSION_CLOSED";
    case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
    case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
    case CKR_KEY_TYPE_INCONSISTENT: return "CKR_KEY_TYPE_INCONSISTENT";
    case CKR_KEY_FUNCTION_NOT_PERMITTED: return "CKR_KEY_FUNCTION_NOT_PERMITTED";
    default: {
      char buf[32];
      snprintf(buf, sizeof buf, "CKR 0x%lx", static_cast<unsigned long>(rv));
      return buf;
    }
  }
}

// The errors after which a new session may succeed where the old one failed.
bool SessionLost(CK_RV rv) {
  return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_USER_NOT_LOGGED_IN ||
         rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_ERROR ||
         rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

StatusOr<std::string> PercentDecode(std::string_view in, std::string_view name) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return InvalidArgument("pkcs11 URI: bad %-escape in " + std::string(name));
    int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return InvalidArgument("pkcs11 URI: bad %-escape in " + std::string(name));
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// A token's fixed-width, blank-padded text field (CK_TOKEN_INFO).
std::string Padded(const unsigned char* field, size_t n) {
  std::string s(reinterpret_cast<const char*>(field), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

// The loaded modules, by path: a module is initialised once per process and
// never finalised, since other keys may still use it.
struct Module {
  void* handle = nullptr;
  CK_FUNCTION_LIST_PTR fns = nullptr;
};

std::mutex modules_mu;
std::map<std::string, Module>* modules = nullptr;

// At exit every module is finalised, so that it frees what it holds (a
// module's own allocations are otherwise left to the process's end, which
// LeakSanitizer reports); a key used after this fails its signatures. The
// handler is registered again after each module is initialised: exit runs
// handlers in reverse order, so it runs before the destructors of the statics
// any module made while loading and initialising, which C_Finalize uses.
void FinalizeModules() {
  std::lock_guard lock(modules_mu);
  for (auto& [path, m] : *modules) {
    if (m.fns) m.fns->C_Finalize(nullptr);
    m.fns = nullptr;
  }
}

StatusOr<CK_FUNCTION_LIST_PTR> LoadModule(const std::string& path) {
  std::lock_guard lock(modules_mu);
  if (!modules) modules = new std::map<std::string, Module>();
  if (auto it = modules->find(path); it != modules->end()) {
    if (!it->second.fns) return Unavailable("pkcs11: " + path + " was finalised: the process is exiting");
    return it->second.fns;
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return InvalidArgument("pkcs11 URI: module-path " + path + " is not a file");
  }
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* err = dlerror();
    return InvalidArgument("pkcs11 URI: cannot load module " + path + ": " + (err ? err : "unknown error"));
  }
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST_PTR fns = nullptr;
  if (!get || get(&fns) != CKR_OK || !fns) {
    dlclose(handle);
    return InvalidArgument("pkcs11 URI: " + path + " is not a PKCS#11 module (no C_GetFunctionList)");
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;  // we sign from several threads
  CK_RV rv = fns->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    dlclose(handle);
    return Unavailable("pkcs11: " + path + ": C_Initialize failed: " + RvName(rv));
  }
  (*modules)[path] = Module{handle, fns};
  std::atexit(FinalizeModules);
  return fns;
}

bool FileReadableByOthers(const std::string& path, std::string* why) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    *why = path + " is not a readable regular file";
    return true;
  }
  if ((st.st_mode & 0137) != 0) {
    char mode[8];
    snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    *why = path + " is readable by others (mode " + mode + "); make it 0600 (or 0400, 0440, 0640)";
    return true;
  }
  return false;
}

const unsigned char kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const unsigned char kEd25519Oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
// SubjectPublicKeyInfo DER up to the P-256 point (RFC 5480).
const unsigned char kP256SpkiPrefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
                                         0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
                                         0x07, 0x03, 0x42, 0x00};

bool BytesEqual(const std::string& s, const unsigned char* b, size_t n) {
  return s.size() == n && std::equal(s.begin(), s.end(), reinterpret_cast<const char*>(b));
}

// CKA_EC_PARAMS of an EC_EDWARDS key: the OID 1.3.101.112, or the
// PrintableString "edwards25519" that PKCS#11 3.0 also allows.
bool IsEd25519Params(const std::string& p) {
  return BytesEqual(p, kEd25519Oid, sizeof kEd25519Oid) || p == std::string("\x13\x0c" "edwards25519", 14);
}

// CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 §2.3.3);
// some tokens give the bare point. `size` is the bare point's length.
std::optional<std::string> BarePoint(const std::string& v, size_t size) {
  if (v.size() == size + 2 && static_cast<unsigned char>(v[0]) == 0x04 && static_cast<unsigned char>(v[1]) == size) {
    return v.substr(2);
  }
  if (v.size() == size) return v;
  return std::nullopt;
}

class Pkcs11Signer : public ExternalSigner {
 public:
  Pkcs11Signer(CK_FUNCTION_LIST_PTR fns, Pkcs11Uri uri, std::string pin)
      : fns_(fns), uri_(std::move(uri)), pin_(std::move(pin)) {}
  ~Pkcs11Signer() override {
    if (session_ != CK_INVALID_HANDLE) fns_->C_CloseSession(session_);
    OPENSSL_cleanse(pin_.data(), pin_.size());
  }

  // Opens the session and finds the key; fills `public_key` on the first call.
  Status Open(std::optional<PublicKey>* public_key) {
    std::lock_guard lock(mu_);
    return OpenLocked(public_key);
  }

  StatusOr<std::string> Sign(std::string_view message) const override {
    std::lock_guard lock(mu_);
    CK_RV rv = SignLocked(message, &signature_);
    if (rv != CKR_OK && SessionLost(rv)) {
      if (session_ != CK_INVALID_HANDLE) fns_->C_CloseSession(session_);
      session_ = CK_INVALID_HANDLE;
      Status st = const_cast<Pkcs11Signer*>(this)->OpenLocked(nullptr);
      if (!st.ok()) return Unavailable("pkcs11: the token's session was lost and cannot be opened again: " + st.message());
      rv = SignLocked(message, &signature_);
    }
    if (rv != CKR_OK) return Unavailable("pkcs11: C_Sign failed: " + RvName(rv));
    if (signature_.size() != 64) return Internal("pkcs11: the token's signature is not 64 bytes");
    return signature_;
  }

 private:
  CK_RV SignLocked(std::string_view message, std::string* out) const {
    if (session_ == CK_INVALID_HANDLE) return CKR_SESSION_HANDLE_INVALID;
    CK_MECHANISM mech{alg_ == KeyAlgorithm::kEd25519 ? CKM_EDDSA : CKM_ECDSA, nullptr, 0};
    CK_RV rv = fns_->C_SignInit(session_, &mech, key_);
    if (rv != CKR_OK) return rv;
    // ES256: the token signs our SHA-256 of the message (CKM_ECDSA is the
    // raw primitive); its output is already r||s (PKCS#11 §2.3.1).
    std::string input = alg_ == KeyAlgorithm::kEd25519 ? std::string(message) : std::string(HashBytes(Sha256(message)));
    unsigned char sig[128];
    CK_ULONG len = sizeof sig;
    rv = fns_->C_Sign(session_, reinterpret_cast<CK_BYTE_PTR>(input.data()), input.size(), sig, &len);
    if (rv != CKR_OK) return rv;
    out->assign(reinterpret_cast<char*>(sig), len);
    return CKR_OK;
  }

  StatusOr<std::string> Attribute(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, size_t max) const {
    CK_ATTRIBUTE a{type, nullptr, 0};
    CK_RV rv = fns_->C_GetAttributeValue(session_, obj, &a, 1);
    if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > max) {
      return Unavailable("cannot read attribute 0x" + std::to_string(type) + ": " + RvName(rv));
    }
    std::string v(a.ulValueLen, '\0');
    a.pValue = v.data();
    rv = fns_->C_GetAttributeValue(session_, obj, &a, 1);
    if (rv != CKR_OK) return Unavailable("cannot read an attribute: " + RvName(rv));
    v.resize(a.ulValueLen);
    return v;
  }

  StatusOr<bool> BoolAttribute(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) const {
    EXECGOV_ASSIGN_OR_RETURN(std::string v, Attribute(obj, type, 1));
    return v.size() == 1 && v[0] != 0;
  }

  // The objects of `cls` the URI's object/id name (id/label given: also the
  // public key found by them).
  StatusOr<std::vector<CK_OBJECT_HANDLE>> Find(CK_OBJECT_CLASS cls, const std::string& label,
                                               const std::string& id) const {
    std::vector<CK_ATTRIBUTE> tmpl{{CKA_CLASS, &cls, sizeof cls}};
    if (!label.empty()) tmpl.push_back({CKA_LABEL, const_cast<char*>(label.data()), label.size()});
    if (!id.empty()) tmpl.push_back({CKA_ID, const_cast<char*>(id.data()), id.size()});
    CK_RV rv = fns_->C_FindObjectsInit(session_, tmpl.data(), tmpl.size());
    if (rv != CKR_OK) return Unavailable("C_FindObjectsInit failed: " + RvName(rv));
    std::vector<CK_OBJECT_HANDLE> found(4);
    CK_ULONG n = 0;
    rv = fns_->C_FindObjects(session_, found.data(), found.size(), &n);
    fns_->C_FindObjectsFinal(session_);
    if (rv != CKR_OK) return Unavailable("C_FindObjects failed: " + RvName(rv));
    found.resize(n);
    return found;
  }

  Status OpenLocked(std::optional<PublicKey>* public_key) {
    CK_ULONG count = 0;
    CK_RV rv = fns_->C_GetSlotList(CK_TRUE, nullptr, &count);
    if (rv != CKR_OK) return Unavailable("C_GetSlotList failed: " + RvName(rv));
    std::vector<CK_SLOT_ID> slots(count);
    rv = fns_->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv != CKR_OK) return Unavailable("C_GetSlotList failed: " + RvName(rv));
    slots.resize(count);
    std::vector<CK_SLOT_ID> matching;
    for (CK_SLOT_ID slot : slots) {
      CK_TOKEN_INFO info{};
      if (fns_->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
      if (!uri_.token.empty() && Padded(info.label, sizeof info.label) != uri_.token) continue;
      if (!uri_.manufacturer.empty() && Padded(info.manufacturerID, sizeof info.manufacturerID) != uri_.manufacturer) {
        continue;
      }
      if (!uri_.model.empty() && Padded(info.model, sizeof info.model) != uri_.model) continue;
      if (!uri_.serial.empty() && Padded(info.serialNumber, sizeof info.serialNumber) != uri_.serial) continue;
      matching.push_back(slot);
    }
    if (matching.size() != 1) {
      return NotFound(std::to_string(matching.size()) + " present tokens match the URI (exactly one must)");
    }
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    rv = fns_->C_OpenSession(matching[0], CKF_SERIAL_SESSION, nullptr, nullptr, &session);
    if (rv != CKR_OK) return Unavailable("C_OpenSession failed: " + RvName(rv));
    session_ = session;
    rv = fns_->C_Login(session_, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(pin_.data()), pin_.size());
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) return Fail(PermissionDenied("C_Login failed: " + RvName(rv)));
    auto keys = Find(CKO_PRIVATE_KEY, uri_.object, uri_.id);
    if (!keys.ok()) return Fail(keys.status());
    if (keys->size() != 1) {
      return Fail(NotFound(std::to_string(keys->size()) + " private keys on the token match the URI (exactly one must)"));
    }
    CK_OBJECT_HANDLE key = (*keys)[0];
    auto key_type = Attribute(key, CKA_KEY_TYPE, sizeof(CK_KEY_TYPE));
    auto params = Attribute(key, CKA_EC_PARAMS, 64);
    if (!key_type.ok() || key_type->size() != sizeof(CK_KEY_TYPE)) return Fail(InvalidArgument("the key's type is unreadable"));
    CK_KEY_TYPE kt;
    memcpy(&kt, key_type->data(), sizeof kt);
    KeyAlgorithm alg;
    if (kt == CKK_EC_EDWARDS && params.ok() && IsEd25519Params(*params)) {
      alg = KeyAlgorithm::kEd25519;
    } else if (kt == CKK_EC && params.ok() && BytesEqual(*params, kP256Oid, sizeof kP256Oid)) {
      alg = KeyAlgorithm::kES256;
    } else {
      return Fail(InvalidArgument("the key is neither Ed25519 nor ECDSA P-256"));
    }
    // Reopened after a lost session: the same kind of key, or nothing (its
    // public half was checked only at load).
    if (!public_key && alg != alg_) return Fail(FailedPrecondition("the key on the token changed its algorithm"));
    // A key that may be read out of the token is a key file waiting to happen.
    auto sensitive = BoolAttribute(key, CKA_SENSITIVE);
    auto extractable = BoolAttribute(key, CKA_EXTRACTABLE);
    if (!sensitive.ok() || !extractable.ok() || !*sensitive || *extractable) {
      return Fail(PermissionDenied(
          "the key may leave the token (it must be CKA_SENSITIVE true and CKA_EXTRACTABLE false)"));
    }
    if (public_key) {
      // Its public half: the public key object of the same id (or, without
      // one in the URI, the same label as the private key).
      auto id = Attribute(key, CKA_ID, 256);
      auto label = Attribute(key, CKA_LABEL, 256);
      std::string want_id = id.ok() ? *id : "", want_label = want_id.empty() && label.ok() ? *label : "";
      if (want_id.empty() && want_label.empty()) return Fail(NotFound("the key has neither an id nor a label to find its public key by"));
      auto pubs = Find(CKO_PUBLIC_KEY, want_label, want_id);
      if (!pubs.ok()) return Fail(pubs.status());
      if (pubs->size() != 1) {
        return Fail(NotFound(std::to_string(pubs->size()) +
                             " public key objects share the key's id (exactly one must: the public key is needed to check "
                             "what the token signs)"));
      }
      auto point = Attribute((*pubs)[0], CKA_EC_POINT, 256);
      if (!point.ok()) return Fail(point.status());
      StatusOr<PublicKey> pub = InvalidArgument("unreachable");
      if (alg == KeyAlgorithm::kEd25519) {
        auto bare = BarePoint(*point, 32);
        if (!bare) return Fail(InvalidArgument("the public key's CKA_EC_POINT is not an Ed25519 point"));
        pub = PublicKey::FromEd25519Raw(*bare);
      } else {
        auto bare = BarePoint(*point, 65);
        if (!bare) return Fail(InvalidArgument("the public key's CKA_EC_POINT is not an uncompressed P-256 point"));
        pub = PublicKey::FromDer(std::string(reinterpret_cast<const char*>(kP256SpkiPrefix), sizeof kP256SpkiPrefix) + *bare);
      }
      if (!pub.ok()) return Fail(pub.status());
      *public_key = *pub;
    }
    alg_ = alg;
    key_ = key;
    return Status::Ok();
  }

  Status Fail(Status st) {
    fns_->C_CloseSession(session_);
    session_ = CK_INVALID_HANDLE;
    return st;
  }

  CK_FUNCTION_LIST_PTR fns_;
  Pkcs11Uri uri_;
  std::string pin_;
  mutable std::mutex mu_;
  mutable CK_SESSION_HANDLE session_ = CK_INVALID_HANDLE;
  mutable std::string signature_;
  CK_OBJECT_HANDLE key_ = CK_INVALID_HANDLE;
  KeyAlgorithm alg_ = KeyAlgorithm::kEd25519;
};

}  // namespace

bool IsPkcs11Uri(std::string_view spec) { return spec.substr(0, 7) == "pkcs11:"; }

StatusOr<Pkcs11Uri> ParsePkcs11Uri(std::string_view uri) {
  if (!IsPkcs11Uri(uri)) return InvalidArgument("not a pkcs11: URI");
  if (uri.size() > kMaxUriBytes) return InvalidArgument("pkcs11 URI: longer than 4096 bytes");
  std::string_view rest = uri.substr(7);
  size_t q = rest.find('?');
  std::string_view path = rest.substr(0, q), query = q == std::string_view::npos ? "" : rest.substr(q + 1);
  Pkcs11Uri out;
  std::map<std::string, int> seen;
  auto each = [&](std::string_view list, char sep, bool is_query) -> Status {
    for (size_t start = 0; start <= list.size();) {
      size_t end = std::min(list.find(sep, start), list.size());
      std::string_view attr = list.substr(start, end - start);
      start = end + 1;
      if (attr.empty()) {
        if (end == list.size()) break;
        continue;
      }
      size_t eq = attr.find('=');
      if (eq == std::string_view::npos) return InvalidArgument("pkcs11 URI: attribute without a value: " + std::string(attr));
      std::string name(attr.substr(0, eq));
      EXECGOV_ASSIGN_OR_RETURN(std::string value, PercentDecode(attr.substr(eq + 1), name));
      if (seen[name]++) return InvalidArgument("pkcs11 URI: " + name + " given twice");
      std::string* field = nullptr;
      if (!is_query) {
        if (name == "token") field = &out.token;
        else if (name == "manufacturer") field = &out.manufacturer;
        else if (name == "model") field = &out.model;
        else if (name == "serial") field = &out.serial;
        else if (name == "object") field = &out.object;
        else if (name == "id") field = &out.id;
        else if (name == "type") {
          if (value != "private") return InvalidArgument("pkcs11 URI: type must be private (the signing key)");
          continue;
        }
      } else {
        if (name == "module-path") field = &out.module_path;
        else if (name == "pin-source") field = &out.pin_file;
        else if (name == "pin-value") {
          return InvalidArgument("pkcs11 URI: pin-value is refused (a PIN on a command line is visible to every "
                                 "user of the machine); put the PIN in a file and name it with pin-source");
        }
      }
      if (!field) return InvalidArgument("pkcs11 URI: unsupported attribute " + name);
      *field = std::move(value);
    }
    return Status::Ok();
  };
  EXECGOV_RETURN_IF_ERROR(each(path, ';', false));
  EXECGOV_RETURN_IF_ERROR(each(query, '&', true));
  if (out.object.empty() && out.id.empty()) return InvalidArgument("pkcs11 URI: name the key with object= or id=");
  if (out.module_path.empty()) return InvalidArgument("pkcs11 URI: module-path= (the token's PKCS#11 module) is required");
  if (out.pin_file.empty()) return InvalidArgument("pkcs11 URI: pin-source= (a file holding the user PIN) is required");
  if (out.pin_file.rfind("file:", 0) == 0) out.pin_file = out.pin_file.substr(5);
  if (out.pin_file.empty() || out.pin_file[0] != '/') {
    return InvalidArgument("pkcs11 URI: pin-source must be an absolute file path (file:/path)");
  }
  return out;
}

StatusOr<PrivateKey> LoadPkcs11Key(std::string_view uri_text) {
  EXECGOV_ASSIGN_OR_RETURN(Pkcs11Uri uri, ParsePkcs11Uri(uri_text));
  std::string why;
  if (FileReadableByOthers(uri.pin_file, &why)) return InvalidArgument("pkcs11 URI: pin-source: " + why);
  EXECGOV_ASSIGN_OR_RETURN(std::string pin, ReadFile(uri.pin_file, kMaxPinBytes));
  if (size_t nl = pin.find_first_of("\r\n"); nl != std::string::npos) pin.resize(nl);
  if (pin.empty()) return InvalidArgument("pkcs11 URI: pin-source " + uri.pin_file + " holds no PIN");
  EXECGOV_ASSIGN_OR_RETURN(CK_FUNCTION_LIST_PTR fns, LoadModule(uri.module_path));
  auto signer = std::make_shared<Pkcs11Signer>(fns, std::move(uri), std::move(pin));
  std::optional<PublicKey> public_key;
  if (Status st = signer->Open(&public_key); !st.ok()) return Status(st.code(), "pkcs11: " + st.message());
  // One signature, checked with the public half: a token whose public key
  // object belongs to another key is found now, not by every verifier later.
  const std::string probe = RandomBytes(32);
  auto sig = signer->Sign(probe);
  if (!sig.ok()) return sig.status();
  if (!public_key->Verify(probe, *sig)) {
    return InvalidArgument("pkcs11: the token's public key object does not verify what its private key signs");
  }
  return PrivateKey::FromExternal(std::move(signer), *public_key);
}

}  // namespace execgov::crypto
