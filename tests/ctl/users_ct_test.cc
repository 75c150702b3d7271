// Password checks are constant-time (issue 16): they behave (equal; unequal at the first or
// the last byte; shorter, longer, empty), and every check ends in exactly one CRYPTO_memcmp over
// digests of one fixed length, whatever the offered password. This file defines CRYPTO_memcmp
// itself, so the test binary's calls (users.cc's) come here and are counted; it compares as
// OpenSSL's does (no early exit), so nothing else in the binary changes behaviour.
#include <doctest/doctest.h>
#include <openssl/crypto.h>

#include <cstddef>
#include <string>

#include "qgate/auth.h"

namespace {

int g_calls = 0;
std::size_t g_last_len = 0;

}  // namespace

extern "C" int CRYPTO_memcmp(const void* in_a, const void* in_b, size_t len) {
    ++g_calls;
    g_last_len = len;
    const auto* a = static_cast<const unsigned char*>(in_a);
    const auto* b = static_cast<const unsigned char*>(in_b);
    unsigned char diff = 0;
    for (std::size_t i = 0; i < len; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff;
}

using namespace qgate;
using namespace qgate::ctl;

namespace {

// Digests of "secret", as a users file may hold them.
constexpr const char* kMd5 = "5ebe2294ecd0e0f08eab7690d2a6ee69";
constexpr const char* kSha1 = "e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4";
constexpr const char* kSha256 = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

config users() {
    config cfg;
    cfg.users = {{"plain", user_entry::hash::plain, "secret"},
                 {"md5", user_entry::hash::md5, kMd5},
                 {"sha1", user_entry::hash::sha1, kSha1},
                 {"sha256", user_entry::hash::sha256, kSha256}};
    return cfg;
}

// authenticate() with one compare counted: the result, and the length compared.
bool check(const config& cfg, const char* user, const std::string& password,
           std::size_t& compared) {
    const int before = g_calls;
    const bool ok = authenticate(cfg, user, password);
    CHECK_MESSAGE(g_calls == before + 1, user, " '", password, "': one CRYPTO_memcmp");
    compared = g_last_len;
    return ok;
}

}  // namespace

TEST_CASE("passwords: equal, unequal at the first or last byte, other lengths") {
    const config cfg = users();
    const std::pair<const char*, std::size_t> kinds[] = {
        {"plain", 64}, {"md5", 32}, {"sha1", 40}, {"sha256", 64}};  // hex digest lengths
    for (const auto& [user, digest_len] : kinds) {
        INFO(user);
        for (const std::string& wrong :
             {std::string("xecret"), std::string("secrex"), std::string("secre"),
              std::string("secrets"), std::string(""), std::string(4096, 's')}) {
            INFO(wrong.size());
            std::size_t n = 0;
            CHECK_FALSE(check(cfg, user, wrong, n));
            CHECK(n == digest_len);  // the same bytes compared whatever was offered
        }
        std::size_t n = 0;
        CHECK(check(cfg, user, "secret", n));
        CHECK(n == digest_len);
    }
}

TEST_CASE("passwords: an unknown user costs the same compare as a known one") {
    const config cfg = users();
    std::size_t n = 0;
    CHECK_FALSE(check(cfg, "nobody", "secret", n));
    CHECK(n == 64);
}
