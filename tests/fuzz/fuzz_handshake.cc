// Fuzz target: a client's handshake as the engine takes it (src/proxy/handshake.cc): bytes
// arrive in chunks, each appended to what came before (up to the bound plus the early bytes a
// client may send behind it), and parse_handshake (src/qipc/handshake.cc) runs on the whole
// prefix after every chunk until it is not `truncated`; then ctl::authenticate (users.cc)
// checks the credentials against a users file of plain, MD5, SHA-1 and SHA-256 entries. The
// engine's own loop is a method of the engine, not separable; this target repeats its three
// lines and fuzzes what they call.
//
// Input layout: byte 0 seeds the chunk sizes, byte 1 bit 0 picks the bound (kHandshakeMax or
// 16); the rest is what the client sends. Invariants beyond "no crash, no sanitizer report":
//   * however the bytes are split, the outcome is the outcome of parsing them all at once
//     (same status, length, user, password and capability): nothing depends on chunking;
//   * `truncated` only while no NUL has arrived and the prefix is within the bound;
//   * authenticate accepts exactly the (user, password) pairs of the users file, and everyone
//     when the table is empty.

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "qgate/auth.h"
#include "qgate/qipc/handshake.h"

using namespace qgate;

namespace {

constexpr std::size_t kEarlyBytes = 65536;  // src/proxy/conn_types.h kEarlyBytesMax

struct pair_text {
    std::string_view user, password;
};
// The users file's entries in the clear: alice plain, bob MD5, carol SHA-1 (upper case, as
// q's files may have it), dave SHA-256 of the empty password.
constexpr pair_text kPairs[] = {{"alice", "secret"}, {"bob", "pw"}, {"carol", "hunter2"},
                                {"dave", ""}};
constexpr char kUsersFile[] =
    "/ the users file q's -u takes\n"
    "alice:secret\n"
    "bob:8fe4c11451281c094a6578e6ddbf5eed\n"
    "carol:F3BBBD66A63D4BF1747940578EC3D0103530E21D\r\n"
    "dave:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n";

config g_users;       // the table above, loaded by load_users
const config g_open;  // no users: everyone may connect

bool same(const qipc::handshake& a, const qipc::handshake& b) {
    return a.user == b.user && a.password == b.password && a.capability == b.capability &&
           a.length == b.length;
}

bool expected(std::string_view user, std::string_view password) {
    for (const pair_text& p : kPairs) {
        if (p.user == user) return p.password == password;
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    char path[] = "/tmp/qgate-fuzz-users-XXXXXX";
    const int fd = mkstemp(path);
    FUZZ_CHECK(fd >= 0);
    const auto n = static_cast<ssize_t>(sizeof kUsersFile - 1);
    FUZZ_CHECK(write(fd, kUsersFile, sizeof kUsersFile - 1) == n);
    close(fd);
    std::string error;
    const bool loaded = ctl::load_users(path, g_users.users, error);
    unlink(path);
    if (!loaded) std::fprintf(stderr, "%s\n", error.c_str());
    FUZZ_CHECK(loaded && g_users.users.size() == 4);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    uint32_t seed = data[0] | 1u;
    const std::size_t max = (data[1] & 1) != 0 ? 16 : qipc::kHandshakeMax;
    const std::span<const uint8_t> in(data + 2, size - 2);

    std::string hs;  // the slot's buffer, as the engine keeps it
    qipc::handshake h;
    qipc::status st{qipc::errc::truncated};
    for (std::size_t at = 0; at < in.size() && st.code == qipc::errc::truncated;) {
        seed = seed * 1103515245u + 12345u;
        const std::size_t n = std::min<std::size_t>(1 + (seed >> 16) % 64, in.size() - at);
        const std::size_t room = max + kEarlyBytes - hs.size();
        hs.append(reinterpret_cast<const char*>(in.data() + at), n < room ? n : room);
        at += n;
        const auto* b = reinterpret_cast<const uint8_t*>(hs.data());
        st = qipc::parse_handshake({b, hs.size()}, h, max);
        if (st.code == qipc::errc::truncated) {
            FUZZ_CHECK(hs.size() <= max && std::memchr(hs.data(), 0, hs.size()) == nullptr);
        }
    }
    qipc::handshake whole;
    const qipc::status all = qipc::parse_handshake(in, whole, max);
    FUZZ_CHECK(all.code == st.code);
    if (!st) return 0;
    FUZZ_CHECK(same(h, whole));
    FUZZ_CHECK(ctl::authenticate(g_open, h.user, h.password));
    FUZZ_CHECK(ctl::authenticate(g_users, h.user, h.password) == expected(h.user, h.password));
    return 0;
}
