// Frame header, handshake and errc names: every field, both byte orders, the 40-bit length.

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "qgate/qipc/frame.h"
#include "qgate/qipc/handshake.h"
#include "qgate/qipc/types.h"
#include "qipc_test_util.h"

namespace qgate::qipc {
namespace {

using test::hex;

std::span<const uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST_CASE("parse_header: little-endian sync, async and response") {
    frame_header h;
    REQUIRE(parse_header(hex("010000000d000000"), h).ok());
    CHECK(h.little_endian);
    CHECK(h.type == msg_type::async);
    CHECK_FALSE(h.compressed);
    CHECK(h.length == 13);
    CHECK(h.body_length() == 5);
    REQUIRE(parse_header(hex("010100000a000000"), h).ok());
    CHECK(h.type == msg_type::sync);
    REQUIRE(parse_header(hex("010200000e000000"), h).ok());
    CHECK(h.type == msg_type::response);
}

TEST_CASE("parse_header: big-endian length, compressed flag, unsigned 32-bit length") {
    frame_header h;
    REQUIRE(parse_header(hex("0001000000000016"), h).ok());
    CHECK_FALSE(h.little_endian);
    CHECK(h.type == msg_type::sync);
    CHECK(h.length == 22);

    REQUIRE(parse_header(hex("010201002d000000"), h).ok());
    CHECK(h.compressed);
    CHECK(h.length == 45);

    // 3 GB with byte 3 == 0: must read as 3221225472, never negative.
    REQUIRE(parse_header(hex("01020000000000c0"), h).ok());
    CHECK(h.length == 0xc0000000u);
    REQUIRE(parse_header(hex("00020000c0000000"), h).ok());
    CHECK(h.length == 0xc0000000u);
}

TEST_CASE("parse_header: 40-bit length needs capability >= 5") {
    frame_header h;
    const auto large = hex("0102000210000000");  // 2 << 32 | 16
    REQUIRE(parse_header(large, h).ok());
    CHECK(h.length == ((uint64_t{2} << 32) | 16));
    REQUIRE(parse_header(hex("0002000200000010"), h).ok());
    CHECK(h.length == ((uint64_t{2} << 32) | 16));

    status st = parse_header(large, h, header_limits{kMaxLength40, 3});
    CHECK(st.code == errc::large_not_negotiated);
    CHECK(st.offset == 3);
    CHECK(parse_header(large, h, header_limits{kMaxLength40, 5}).ok());
    CHECK(parse_header(hex("01020000ffffffff"), h, header_limits{kMaxLength40, 0}).ok());
}

TEST_CASE("parse_header: each bad field has its own errc and offset") {
    frame_header h;
    struct bad {
        const char* hex_text;
        errc code;
        uint64_t offset;
    };
    const bad cases[] = {
        {"020000000d000000", errc::bad_endian, 0},
        {"ff0000000d000000", errc::bad_endian, 0},
        {"010300000d000000", errc::bad_msg_type, 1},
        {"01ff00000d000000", errc::bad_msg_type, 1},
        {"010002000d000000", errc::bad_compressed_flag, 2},
        {"0100ff000d000000", errc::bad_compressed_flag, 2},
        {"0100000009000000", errc::length_too_small, 4},
        {"0100000000000000", errc::length_too_small, 4},
        {"010001000c000000", errc::length_too_small, 4},
        {"01000000", errc::truncated, 4},
        {"", errc::truncated, 0},
    };
    for (const bad& c : cases) {
        INFO(c.hex_text);
        const status st = parse_header(hex(c.hex_text), h);
        CHECK(st.code == c.code);
        CHECK(st.offset == c.offset);
    }
    // Minimums are inclusive.
    CHECK(parse_header(hex("010000000a000000"), h).ok());
    CHECK(parse_header(hex("010001000d000000"), h).ok());
}

TEST_CASE("parse_header: length_max") {
    frame_header h;
    const header_limits lim{1000, 6};
    CHECK(parse_header(hex("01000000e8030000"), h, lim).ok());
    status st = parse_header(hex("01000000e9030000"), h, lim);
    CHECK(st.code == errc::length_too_large);
    CHECK(st.offset == 4);
    st = parse_header(hex("0100000110000000"), h, lim);  // only byte 3 makes it too large
    CHECK(st.code == errc::length_too_large);
    CHECK(st.offset == 3);
}

TEST_CASE("write_header round-trips both byte orders and the 40-bit length") {
    for (bool le : {true, false}) {
        for (uint64_t length : {uint64_t{10}, uint64_t{0xfffffffe}, kMaxLength40}) {
            const frame_header in{le, msg_type::response, false, length};
            uint8_t buf[kHeaderSize];
            write_header(in, buf);
            frame_header out;
            REQUIRE(parse_header(buf, out).ok());
            CHECK(out.little_endian == le);
            CHECK(out.type == msg_type::response);
            CHECK(out.length == length);
        }
    }
    uint8_t buf[kHeaderSize];
    write_header(frame_header{true, msg_type::sync, true, 45}, buf);
    CHECK(std::vector<uint8_t>(buf, buf + 8) == hex("010101002d000000"));
    write_header(frame_header{false, msg_type::async, false, 22}, buf);
    CHECK(std::vector<uint8_t>(buf, buf + 8) == hex("0000000000000016"));
}

TEST_CASE("load_u32 / store_u32 are unsigned in both orders") {
    uint8_t b[4];
    store_u32(b, 0xdeadbeef, true);
    CHECK(load_u32(b, true) == 0xdeadbeefu);
    CHECK(b[0] == 0xef);
    store_u32(b, 0xdeadbeef, false);
    CHECK(load_u32(b, false) == 0xdeadbeefu);
    CHECK(b[0] == 0xde);
}

TEST_CASE("parse_handshake: user:password with capability") {
    handshake hs;
    const std::string in("alice:pw\3\0", 10);
    REQUIRE(parse_handshake(bytes_of(in), hs).ok());
    CHECK(hs.user == "alice");
    CHECK(hs.password == "pw");
    CHECK(hs.capability == 3);
    CHECK(hs.length == 10);
    // Bytes after the NUL (a pipelined first message) are not consumed.
    const std::string more = in + "\1\1\0\0";
    REQUIRE(parse_handshake(bytes_of(more), hs).ok());
    CHECK(hs.length == 10);
    // Password keeps later colons.
    const std::string colons("u:a:b\6\0", 7);
    REQUIRE(parse_handshake(bytes_of(colons), hs).ok());
    CHECK(hs.user == "u");
    CHECK(hs.password == "a:b");
    CHECK(hs.capability == 6);
}

TEST_CASE("parse_handshake: no colon (node-q anonymous), empty credentials") {
    handshake hs;
    const std::string anon("anonymous\3\0", 11);
    REQUIRE(parse_handshake(bytes_of(anon), hs).ok());
    CHECK(hs.user == "anonymous");
    CHECK(hs.password.empty());
    CHECK(hs.capability == 3);

    const std::string empty("\3\0", 2);
    REQUIRE(parse_handshake(bytes_of(empty), hs).ok());
    CHECK(hs.user.empty());
    CHECK(hs.capability == 3);
    CHECK(hs.length == 2);

    const std::string colon_only(":\3\0", 3);
    REQUIRE(parse_handshake(bytes_of(colon_only), hs).ok());
    CHECK(hs.user.empty());
    CHECK(hs.password.empty());
}

TEST_CASE("parse_handshake: missing capability byte (qPython fallback)") {
    handshake hs;
    const std::string in("bob:pw\0", 7);
    REQUIRE(parse_handshake(bytes_of(in), hs).ok());
    CHECK(hs.user == "bob");
    CHECK(hs.password == "pw");  // 'w' (0x77) stays in the password
    CHECK(hs.capability == 0);
    CHECK(hs.length == 7);
    const std::string seven("bob:pw\7\0", 8);  // 7 is above kMaxCapability: not a capability
    REQUIRE(parse_handshake(bytes_of(seven), hs).ok());
    CHECK(hs.capability == 0);
    CHECK(hs.password == "pw\7");
}

TEST_CASE("parse_handshake: partial input and the length bound") {
    handshake hs;
    status st = parse_handshake(bytes_of("alice:p"), hs);
    CHECK(st.code == errc::truncated);
    CHECK(st.offset == 7);
    CHECK(parse_handshake({}, hs).code == errc::truncated);

    const std::string long_text(kHandshakeMax, 'a');
    st = parse_handshake(bytes_of(long_text), hs);
    CHECK(st.code == errc::handshake_too_long);
    CHECK(st.offset == kHandshakeMax);
    // The NUL just past the bound does not count.
    const std::string just_over = long_text + std::string("\0", 1);
    CHECK(parse_handshake(bytes_of(just_over), hs).code == errc::handshake_too_long);
    // With a NUL as the last allowed byte it parses.
    std::string at_bound(kHandshakeMax - 1, 'a');
    at_bound.push_back('\0');
    CHECK(parse_handshake(bytes_of(at_bound), hs).ok());
    CHECK(parse_handshake(bytes_of("abcdef"), hs, 4).code == errc::handshake_too_long);
}

TEST_CASE("negotiate_capability") {
    CHECK(negotiate_capability(3) == 3);
    CHECK(negotiate_capability(6, 3) == 3);
    CHECK(negotiate_capability(0) == 0);
    CHECK(negotiate_capability(200, 200) == kMaxCapability);
}

TEST_CASE("errc_name: every code has a distinct name") {
    std::set<std::string> names;
    for (int e = 0; e <= static_cast<int>(errc::inflate_limit); ++e) {
        const std::string n = errc_name(static_cast<errc>(e));
        CHECK(n != "unknown");
        names.insert(n);
    }
    CHECK(names.size() == static_cast<std::size_t>(errc::inflate_limit) + 1);
    CHECK(std::string(errc_name(errc::count_too_large)) == "count_too_large");
    CHECK(std::string(errc_name(static_cast<errc>(200))) == "unknown");
}

}  // namespace
}  // namespace qgate::qipc
