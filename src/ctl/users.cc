// DESIGN: client authentication the way q's -u/-U users file does it. load_users runs on the
// control plane (start-up, reload) and builds config::users; authenticate runs once per
// client handshake, possibly on a shard thread, so it neither allocates nor throws: digests
// go into stack buffers (OpenSSL EVP one-shot), and every comparison is constant-time
// (CRYPTO_memcmp over equal-length digests) so response timing says nothing about how much
// of a password matched. An unknown user costs the same hashing as a known one.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "qgate/auth.h"

namespace qgate::ctl {
namespace {

using hash = user_entry::hash;

constexpr std::string_view kAdminRole = "admin";

bool all_hex(std::string_view s) {
    for (char c : s) {
        if (std::isxdigit(static_cast<unsigned char>(c)) == 0) return false;
    }
    return true;
}

// q tells a digest from a plain password by its length when it is all hex (as q -u does).
hash kind_of(std::string_view password) {
    if (!all_hex(password)) return hash::plain;
    switch (password.size()) {
    case 32: return hash::md5;
    case 40: return hash::sha1;
    case 64: return hash::sha256;
    default: return hash::plain;
    }
}

const EVP_MD* md_of(hash kind) {
    switch (kind) {
    case hash::md5: return EVP_md5();
    case hash::sha1: return EVP_sha1();
    case hash::sha256: return EVP_sha256();
    case hash::plain: break;
    }
    return EVP_sha256();
}

// Lowercase hex digest of `text` into `out` (>= 2 * EVP_MAX_MD_SIZE); returns its length.
std::size_t hex_digest(hash kind, std::string_view text, char* out) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(text.data(), text.size(), md, &n, md_of(kind), nullptr) != 1) return 0;
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = kHex[md[i] >> 4];
        out[2 * i + 1] = kHex[md[i] & 15];
    }
    return 2 * std::size_t{n};
}

bool same_digest(hash kind, std::string_view a, std::string_view b) {
    char da[2 * EVP_MAX_MD_SIZE];
    char db[2 * EVP_MAX_MD_SIZE];
    const std::size_t na = hex_digest(kind, a, da);
    const std::size_t nb = hex_digest(kind, b, db);
    return na != 0 && na == nb && CRYPTO_memcmp(da, db, na) == 0;
}

// A password matches an entry: plain secrets are compared through their SHA-256 so the
// comparison time does not depend on where (or whether) the lengths differ.
bool matches(const user_entry& e, std::string_view password) {
    if (e.kind == hash::plain) return same_digest(hash::sha256, password, e.secret);
    char digest[2 * EVP_MAX_MD_SIZE];
    const std::size_t n = hex_digest(e.kind, password, digest);
    return n != 0 && n == e.secret.size() && CRYPTO_memcmp(digest, e.secret.data(), n) == 0;
}

bool parse_line(std::string_view line, user_entry& out, std::string& why) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
        why = "expected user:password";
        return false;
    }
    if (colon == 0) {
        why = "empty user name";
        return false;
    }
    out.user = std::string(line.substr(0, colon));
    std::string_view password = line.substr(colon + 1);
    // The role is a third field (`user:secret:admin`), which q's own -u reader would take as
    // part of the password: the file stays a valid q users file, only the admins' lines differ.
    const std::size_t last = password.rfind(':');
    if (last != std::string_view::npos && password.substr(last + 1) == kAdminRole) {
        out.admin = true;
        password = password.substr(0, last);
    }
    out.kind = kind_of(password);
    out.secret = std::string(password);
    if (out.kind != hash::plain) {
        for (char& c : out.secret) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
    }
    return true;
}

}  // namespace

bool load_users(const std::string& path, std::vector<user_entry>& out, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = path + ": cannot open: " + std::strerror(errno);
        return false;
    }
    std::vector<user_entry> users;
    std::string line;
    for (unsigned number = 1; std::getline(in, line); ++number) {
        if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files
        if (line.empty() || line.front() == '/') continue;
        user_entry e;
        std::string why;
        if (!parse_line(line, e, why)) {
            // NOLINTNEXTLINE(performance-inefficient-string-concatenation): once, on the way out
            error = path + ":" + std::to_string(number) + ": " + why;
            return false;
        }
        for (const user_entry& seen : users) {
            if (seen.user == e.user) {
                error = path + ":" + std::to_string(number) + ": user '" + e.user +
                        "' is listed twice";
                return false;
            }
        }
        users.push_back(std::move(e));
    }
    out = std::move(users);
    return true;
}

bool authenticate(const config& cfg, std::string_view user, std::string_view password,
                  bool* admin) {
    if (admin != nullptr) *admin = cfg.users.empty();  // no users file: anyone, as q without -u
    if (cfg.users.empty()) return true;
    for (const user_entry& e : cfg.users) {
        if (e.user != user) continue;
        const bool ok = matches(e, password);
        if (admin != nullptr) *admin = ok && e.admin;
        return ok;
    }
    // Unknown user: spend the same work as a wrong password for a known one.
    (void)same_digest(hash::sha256, password, user);
    return false;
}

}  // namespace qgate::ctl
