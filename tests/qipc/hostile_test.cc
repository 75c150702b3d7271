// Hostile input: truncation at every byte, lying lengths and counts, deep nesting, bad type,
// attribute and header bytes, unterminated text, trailing bytes. Every case must fail with
// its specific errc, quickly, and never read outside the buffer (run under ASan in CI).

#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "qgate/qipc/frame.h"
#include "qgate/qipc/handshake.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/walker.h"
#include "qgate/qipc/writer.h"
#include "qipc_test_util.h"

namespace qgate::qipc {
namespace {

using test::hex;

status walk(const std::vector<uint8_t>& body, bool le = true, walk_limits lim = {}) {
    return walker(body, le, lim).validate();
}

void expect(const std::vector<uint8_t>& body, errc code, uint64_t offset) {
    const status st = walk(body);
    INFO("got " << std::string(errc_name(st.code)) << " at " << st.offset);
    CHECK(st.code == code);
    CHECK(st.offset == offset);
    value v;
    const status sd = decode(body, true, v);  // decode reports exactly what the walker does
    CHECK(sd.code == st.code);
    CHECK(sd.offset == st.offset);
}

// Each prefix of a valid body fails as truncated or count_too_large, or as unterminated when
// the cut falls inside NUL-terminated text (then nothing from the offset on is a NUL).
void check_every_cut(const std::vector<uint8_t>& body) {
    REQUIRE(walk(body).ok());
    for (std::size_t cut = 0; cut < body.size(); ++cut) {
        // A fresh allocation of exactly `cut` bytes so ASan catches any read past it.
        std::vector<uint8_t> prefix(body.begin(), body.begin() + long(cut));
        prefix.shrink_to_fit();
        const status st = walk(prefix);
        INFO("cut " << cut << ": " << std::string(errc_name(st.code)) << " at " << st.offset);
        const bool text_cut = st.code == errc::unterminated && st.offset <= cut &&
                              std::memchr(prefix.data() + st.offset, 0, cut - st.offset) == nullptr;
        CHECK((st.code == errc::truncated || st.code == errc::count_too_large || text_cut));
        CHECK(st.offset <= cut);
        value v;
        CHECK_FALSE(decode(prefix, true, v).ok());
    }
}

TEST_CASE("truncation at every cut point of q-produced vectors") {
    const auto qp = test::read_qpython("qpython-QExpressions3.out");
    REQUIRE(qp.size() == 118);
    int checked = 0;
    for (const test::vector_case& c : qp) {
        INFO("expression: " << c.name);
        check_every_cut(c.bytes);
        ++checked;
    }
    CHECK(checked == 118);
    // Whole messages: a cut header is truncated at the end of the input.
    const auto msg = hex("010200000e000000807479706500");
    for (std::size_t cut = 0; cut < kHeaderSize; ++cut) {
        frame_header h;
        const status st = parse_header(std::span(msg.data(), cut), h);
        CHECK(st.code == errc::truncated);
        CHECK(st.offset == cut);
    }
    value v;
    frame_header h;
    CHECK(decode_message(std::span(msg.data(), msg.size() - 1), h, v).code == errc::truncated);
}

TEST_CASE("oversized lengths") {
    frame_header h;
    const header_limits lim{1 << 20, 3};
    status st = parse_header(hex("01010000ffffffff"), h, lim);
    CHECK(st.code == errc::length_too_large);
    CHECK(st.offset == 4);
    st = parse_header(hex("00010000ffffffff"), h, lim);
    CHECK(st.code == errc::length_too_large);
    // A 40-bit length on a capability-3 link is refused before its size is even considered.
    CHECK(parse_header(hex("010100ff10000000"), h, lim).code == errc::large_not_negotiated);
    // decode_message: the buffer must be exactly the declared length.
    value v;
    st = decode_message(hex("010200000e000000807479706500 00"), h, v);
    CHECK(st.code == errc::trailing_bytes);
    CHECK(st.offset == 14);
}

TEST_CASE("lying counts fail before any loop runs") {
    const auto start = std::chrono::steady_clock::now();
    expect(hex("0700 ffffffff 0100000000000000"), errc::count_too_large, 2);
    expect(hex("0200 02000000" + std::string(62, '0')), errc::count_too_large, 2);
    expect(hex("0b00 ffffffff 6100"), errc::count_too_large, 2);
    expect(hex("0000 ffffffff 6500 6500"), errc::count_too_large, 2);
    expect(hex("0000 03000000 6500 6500"), errc::count_too_large, 2);  // 3 items need >= 6 bytes
    expect(hex("68 ffffffff 6605 f9"), errc::count_too_large, 1);
    expect(hex("69 80000000 6605"), errc::count_too_large, 1);
    expect(hex("0a00 05000000 61626364"), errc::count_too_large, 2);
    // Nested: an inner list lies; the offset is the inner count.
    expect(hex("0000 01000000 0000 feffffff 6500"), errc::count_too_large, 8);
    // A count that fits the bytes but whose items do not parse: the items fail, not the count.
    expect(hex("0000 02000000 6500 0700 01000000"), errc::count_too_large, 10);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(elapsed < std::chrono::seconds(1));
}

TEST_CASE("deep and self-similar nesting is bounded by depth_max") {
    // A megabyte of adverb bytes: every byte opens one more level.
    std::vector<uint8_t> adverbs(1 << 20, 0x6a);
    status st = walk(adverbs);
    CHECK(st.code == errc::too_deep);
    CHECK(st.offset == 65);
    // Nested lists, each claiming one item, far past the limit.
    std::vector<uint8_t> lists;
    for (int i = 0; i < 100000; ++i) {
        const auto head = hex("0000 01000000");
        lists.insert(lists.end(), head.begin(), head.end());
    }
    lists.push_back(0x65);
    lists.push_back(0x00);
    CHECK(walk(lists).code == errc::too_deep);
    // Dicts whose keys are dicts, projections of projections, tables of tables.
    std::vector<uint8_t> dicts(5000, 0x63);
    CHECK(walk(dicts).code == errc::too_deep);
    std::vector<uint8_t> projections;
    for (int i = 0; i < 5000; ++i) {
        const auto head = hex("68 01000000");
        projections.insert(projections.end(), head.begin(), head.end());
    }
    projections.push_back(0x65);
    projections.push_back(0x00);
    CHECK(walk(projections).code == errc::too_deep);
    std::vector<uint8_t> lambdas;
    for (int i = 0; i < 5000; ++i) lambdas.push_back(i % 2 ? 0x00 : 0x64);  // 64 00 64 00 ...
    CHECK(walk(lambdas).code == errc::too_deep);
    value v;
    CHECK(decode(adverbs, true, v).code == errc::too_deep);
    // A raised limit is honoured (recursion is depth_max deep: keep limits modest).
    std::vector<uint8_t> thousand(lists.end() - 1000 * 6 - 2, lists.end());
    CHECK(walk(thousand, true, walk_limits{1000}).ok());
    CHECK(walk(thousand, true, walk_limits{999}).code == errc::too_deep);
}

TEST_CASE("bad type bytes") {
    for (int t : {3, 20, 21, 76, 77, 96, 97, 112, 113, 120, 126}) {
        INFO("type " << t);
        expect({uint8_t(t), 0x00, 0x01, 0x00, 0x00, 0x00, 0x01}, errc::bad_type, 0);
    }
    for (int t : {-3, -20, -76, -77, -97, -100, -112, -127}) {
        INFO("type " << t);
        expect({uint8_t(int8_t(t)), 0x01, 0x02, 0x03, 0x04}, errc::bad_type, 0);
    }
    // Inside a list: the offset is the inner type byte.
    expect(hex("0000 01000000 14 00 01000000 01000000"), errc::bad_type, 6);
    // In a table, where a dict must follow.
    expect(hex("6200 0b00 00000000"), errc::bad_table, 2);
    expect(hex("6200"), errc::truncated, 2);
}

TEST_CASE("bad attributes") {
    expect(hex("0705 00000000"), errc::bad_attribute, 1);
    expect(hex("07ff 00000000"), errc::bad_attribute, 1);
    expect(hex("0b05 00000000"), errc::bad_attribute, 1);
    expect(hex("0009 00000000"), errc::bad_attribute, 1);
    expect(hex("6205 630b00000000000000000000"), errc::bad_attribute, 1);
    CHECK(walk(hex("0704 00000000")).ok());
}

TEST_CASE("unterminated text") {
    expect(hex("f5616263"), errc::unterminated, 1);
    expect(hex("80747970"), errc::unterminated, 1);
    expect(hex("0b00 02000000 6100 62"), errc::unterminated, 8);
    expect(hex("0b00 02000000 6100"), errc::unterminated, 8);
    expect(hex("647171"), errc::unterminated, 1);  // lambda context
}

// Symbol vectors are scanned 16 bytes at a time on x86 with a memchr tail (walker.cc,
// skip_texts). These cases put NULs, symbol starts and the body end on either side of the
// 16-byte block boundaries, counting from the first symbol byte at body offset 6.

// A symbol vector `0b00 <count>` with the given texts, each followed by a NUL unless
// `last_nul` is false for the last one. Exactly sized, so ASan catches a read past the end.
std::vector<uint8_t> sym_vector(const std::vector<std::string>& texts, bool last_nul = true,
                                uint32_t count = 0) {
    std::vector<uint8_t> b = {0x0b, 0x00};
    const uint32_t n = count != 0 ? count : static_cast<uint32_t>(texts.size());
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(n >> (8 * i)));
    for (std::size_t i = 0; i < texts.size(); ++i) {
        b.insert(b.end(), texts[i].begin(), texts[i].end());
        if (last_nul || i + 1 < texts.size()) b.push_back(0);
    }
    b.shrink_to_fit();
    return b;
}

TEST_CASE("symbol vectors: symbols spanning 16-byte blocks, empty symbols, exact ends") {
    for (std::size_t len = 0; len <= 40; ++len) {
        // Two symbols: the first `len` bytes long, so the NUL between them walks through every
        // position of the first three blocks; the second ends the body.
        const auto body = sym_vector({std::string(len, 'a'), "bc"});
        object_view v;
        REQUIRE(walker(body, true).validate(&v).ok());
        CHECK(v.count == 2);
        CHECK(v.bytes.size() == body.size());
    }
    // Only empty symbols: every byte is a NUL (16 per block, then a tail).
    for (uint32_t n : {1u, 15u, 16u, 17u, 31u, 32u, 33u, 100u}) {
        const auto body = sym_vector(std::vector<std::string>(n, ""));
        object_view v;
        REQUIRE(walker(body, true).validate(&v).ok());
        CHECK(v.count == n);
    }
    // Empty symbols mixed with long ones: the n-th NUL falls mid-block after several others.
    const auto mixed = sym_vector({"", "", "abcdefghijklmnopqrstu", "", "x", "", "", "yz", ""});
    CHECK(walk(mixed).ok());
    // The empty vector and a vector of one symbol ending at the last byte.
    CHECK(walk(hex("0b00 00000000")).ok());
    CHECK(walk(sym_vector({std::string(26, 'q')})).ok());
}

TEST_CASE("symbol vectors followed by more objects: the span ends at the n-th NUL") {
    // (syms; 7j): the vector's last NUL falls anywhere in a 16-byte block with the long atom's
    // bytes after it in the same block, so the scan must stop at exactly the count-th NUL.
    for (std::size_t len = 0; len <= 40; ++len) {
        for (uint32_t n : {1u, 2u, 3u, 5u}) {
            std::vector<std::string> texts;
            for (uint32_t i = 0; i < n; ++i) texts.push_back(std::string((len + i) % 7, 'k'));
            texts.back() = std::string(len, 'm');
            const auto syms = sym_vector(texts);
            std::vector<uint8_t> body = hex("0000 02000000");
            body.insert(body.end(), syms.begin(), syms.end());
            const auto atom = hex("f9 0700000000000000");
            body.insert(body.end(), atom.begin(), atom.end());
            const walker w(body, true);
            object_view top, child;
            REQUIRE(w.validate(&top).ok());
            child_cursor cur(w, top);
            REQUIRE(cur.next(child));
            CHECK(child.type == qtype::kSymbol);
            CHECK(child.count == n);
            CHECK(child.bytes.size() == syms.size());
            REQUIRE(cur.next(child));
            CHECK(child.type == -qtype::kLong);
        }
    }
}

TEST_CASE("symbol vectors: the first unterminated symbol is reported, wherever it starts") {
    for (std::size_t len = 1; len <= 40; ++len) {
        // The last symbol has no NUL: unterminated at its first byte, even when the body ends
        // just after a full 16-byte block or mid-way through one.
        const auto body = sym_vector({"ab", std::string(len, 'z')}, false);
        expect(body, errc::unterminated, 6 + 3);
        // Only one symbol, unterminated from the first byte of the vector's data.
        expect(sym_vector({std::string(len, 'z')}, false), errc::unterminated, 6);
    }
    // The count says 3 but the body holds two terminated symbols: the missing third starts at
    // the end of the body.
    const auto short_count = sym_vector({"abcdefghijklmnop", "q"}, true, 3);
    REQUIRE(short_count.size() == 6 + 17 + 2);
    expect(short_count, errc::unterminated, short_count.size());
    // 40 empty symbols promised, 39 NULs present, the last byte not a NUL.
    std::vector<uint8_t> nuls = hex("0b00 28000000");
    nuls.insert(nuls.end(), 39, 0);
    nuls.push_back('x');
    expect(nuls, errc::unterminated, nuls.size() - 1);
    // A count larger than the bytes left is still caught before any scan.
    expect(hex("0b00 05000000 00000000"), errc::count_too_large, 2);
}

TEST_CASE("symbol vector at the very end of a larger body") {
    // (`a;`sym vector): the vector is the last object, its final NUL the body's last byte.
    std::vector<uint8_t> body = hex("0000 02000000 f56100");
    const auto syms = sym_vector({"abcdefghijklmno", "", "pqrstuvwxyz0123"});
    body.insert(body.end(), syms.begin(), syms.end());
    body.shrink_to_fit();
    object_view v;
    REQUIRE(walker(body, true).validate(&v).ok());
    CHECK(v.count == 2);
    // Drop the final NUL: the last symbol is unterminated, at its first byte.
    body.pop_back();
    body.shrink_to_fit();
    expect(body, errc::unterminated, body.size() - 15);
    check_every_cut(sym_vector({"abcdefghijklmnopqrstuvwxyz", "", "0123456789abcdef", "x"}));
}

TEST_CASE("trailing bytes after the single top-level object") {
    expect(hex("fa01000000 00"), errc::trailing_bytes, 5);
    expect(hex("6500 6500"), errc::trailing_bytes, 2);
    expect({}, errc::truncated, 0);
}

TEST_CASE("bad header bytes, each with its errc") {
    frame_header h;
    const std::vector<uint8_t> good = hex("010100000d000000");
    REQUIRE(parse_header(good, h).ok());
    for (int i = 0; i < 3; ++i) {
        for (int b = 2; b < 256; b += 37) {
            auto bad = good;
            bad[i] = uint8_t(b == 2 && i == 1 ? 3 : b);
            const status st = parse_header(bad, h);
            const errc want[] = {errc::bad_endian, errc::bad_msg_type, errc::bad_compressed_flag};
            CHECK(st.code == want[i]);
            CHECK(st.offset == uint64_t(i));
        }
    }
    auto large = good;
    large[3] = 1;
    CHECK(parse_header(large, h, header_limits{kMaxLength40, 4}).code ==
          errc::large_not_negotiated);
    auto small = good;
    small[4] = 9;
    CHECK(parse_header(small, h).code == errc::length_too_small);
}

TEST_CASE("big-endian header and body") {
    frame_header h;
    const auto msg = hex("0002000000000012 fa 00000001 00 00 00 00 00");
    REQUIRE(parse_header(msg, h).ok());
    CHECK_FALSE(h.little_endian);
    CHECK(h.length == 18);
    const auto be = hex("000200000000000d fa00000001");
    value v;
    REQUIRE(decode_message(be, h, v).ok());
    CHECK(v == value::int_(1));
    const auto be_guid = hex("0002000000000019 fe8c680a015a495aab5a65d4bfddb6a661");
    REQUIRE(decode_message(be_guid, h, v).ok());
    CHECK(v.raw == hex("8c680a015a495aab5a65d4bfddb6a661"));  // guid never swapped
    // A big-endian count that lies is rejected like a little-endian one.
    CHECK(walk(hex("0700 ffffff00"), false).code == errc::count_too_large);
}

TEST_CASE("handshake too long or never terminated") {
    handshake hs;
    std::vector<uint8_t> flood(1 << 16, 'x');
    status st = parse_handshake(flood, hs);
    CHECK(st.code == errc::handshake_too_long);
    CHECK(st.offset == kHandshakeMax);
    // An HTTP request line has no NUL either.
    const std::string http = "GET / HTTP/1.1\r\nHost: q\r\n\r\n";
    st = parse_handshake({reinterpret_cast<const uint8_t*>(http.data()), http.size()}, hs, 16);
    CHECK(st.code == errc::handshake_too_long);
}

TEST_CASE("random mutations of real vectors never crash; what validates round-trips") {
    const auto qp = test::read_qpython("qpython-QExpressions3.out");
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    auto next = [&seed] {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        return seed;
    };
    int valid = 0;
    int total = 0;
    for (const test::vector_case& c : qp) {
        for (int round = 0; round < 60; ++round) {
            std::vector<uint8_t> b = c.bytes;
            const int flips = 1 + int(next() % 3);
            for (int i = 0; i < flips; ++i) b[next() % b.size()] = uint8_t(next());
            ++total;
            value v;
            if (!decode(b, true, v).ok()) continue;
            ++valid;
            CHECK(encode_body(v) == b);
        }
    }
    CHECK(total == 118 * 60);
    CHECK(valid > 0);
}

}  // namespace
}  // namespace qgate::qipc
