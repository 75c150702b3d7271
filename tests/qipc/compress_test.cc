// Compression: byte-exact against javakdb's and q's compressed vectors, round trips over
// generated data, and hostile compressed input (each failure with its exact errc).
// The vector files are read in place from QGATE_SHARED_DIR; their case counts are asserted so a
// missing or emptied file fails instead of passing vacuously.

#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "qgate/qipc/compress.h"
#include "qgate/qipc/frame.h"

using namespace qgate::qipc;

namespace {

using bytes = std::vector<uint8_t>;

bytes from_hex(const std::string& hex) {
    REQUIRE(hex.size() % 2 == 0);
    bytes out(hex.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        out[i] = uint8_t(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    }
    return out;
}

std::vector<std::string> read_lines(const std::string& name) {
    std::ifstream in(std::string(QGATE_SHARED_DIR) + "/qipc-vectors/" + name);
    REQUIRE_MESSAGE(in.good(), "cannot open " << name);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) {
        if (!l.empty() && l.back() == '\r') l.pop_back();
        lines.push_back(l);
    }
    return lines;
}

std::vector<std::string> split_tabs(const std::string& line) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, '\t');) cols.push_back(c);
    return cols;
}

// compress() into a right-sized buffer; empty when q would send the message uncompressed.
bytes compress_vec(const bytes& msg) {
    bytes out(msg.size() / 2);
    const uint64_t n = compress(msg, out);
    out.resize(n);
    return out;
}

// uncompressed_length() then decompress(); on failure returns the status and an empty vector.
status decompress_vec(const bytes& msg, bytes& out, uint64_t length_max = uint64_t{1} << 32) {
    uint64_t ulen = 0;
    status st = uncompressed_length(msg, length_max, ulen);
    if (!st) return st;
    out.assign(ulen, 0xee);
    return decompress(msg, out);
}

bytes plain_message(bytes body, bool le = true, msg_type type = msg_type::async) {
    bytes msg(kHeaderSize);
    write_header(frame_header{le, type, false, kHeaderSize + body.size()}, msg.data());
    msg.insert(msg.end(), body.begin(), body.end());
    return msg;
}

// The uncompressed "til 1000" message (8014 bytes) from javakdb-compress-cases.tsv, which the
// hostile tests corrupt.
struct til_1000 {
    bytes plain, packed;
    til_1000() {
        for (const auto& l : read_lines("javakdb-compress-cases.tsv")) {
            auto cols = split_tabs(l);
            if (cols.size() == 3 && cols[0].rfind("til 1000", 0) == 0) {
                plain = from_hex(cols[1]);
                packed = from_hex(cols[2]);
            }
        }
        REQUIRE(plain.size() == 8014);
        REQUIRE(packed.size() == 3276);
    }
};

void set_u32(bytes& m, size_t at, uint32_t v) { store_u32(m.data() + at, v, m[0] == 1); }

}  // namespace

TEST_CASE("compress: javakdb cases, byte for byte") {
    int cases = 0;
    for (const auto& line : read_lines("javakdb-compress-cases.tsv")) {
        if (line.empty() || line[0] == '#') continue;
        const auto cols = split_tabs(line);
        REQUIRE(cols.size() == 3);
        ++cases;
        INFO("case: " << cols[0]);
        const bytes plain = from_hex(cols[1]);
        const bytes got = compress_vec(plain);
        if (cols[2] == "-") {
            CHECK(got.empty());
            continue;
        }
        const bytes want = from_hex(cols[2]);
        CHECK(got == want);
        bytes back;
        REQUIRE(decompress_vec(want, back).ok());
        CHECK(back == plain);
    }
    CHECK(cases == 8);
}

TEST_CASE("compress: q-made compressed vectors decompress and recompress identically") {
    const auto lines = read_lines("qpython-QCompressedExpressions3.out");
    int cases = 0;
    for (size_t i = 0; i + 1 < lines.size(); i += 2) {
        if (lines[i].empty()) continue;
        ++cases;
        INFO("expression: " << lines[i]);
        const bytes rest = from_hex(lines[i + 1]);
        bytes q_msg = {1, 0, 1, 0, 0, 0, 0, 0};
        set_u32(q_msg, 4, uint32_t(kHeaderSize + rest.size()));
        q_msg.insert(q_msg.end(), rest.begin(), rest.end());

        bytes plain;
        REQUIRE(decompress_vec(q_msg, plain).ok());
        CHECK(plain.size() == load_u32(rest.data(), true));
        frame_header h;
        REQUIRE(parse_header(plain, h).ok());
        CHECK(h.length == plain.size());
        CHECK_FALSE(h.compressed);
        CHECK(compress_vec(plain) == q_msg);
    }
    CHECK(cases == 3);
}

TEST_CASE("compress: til 1000 is 3276 bytes, as KX document for -18!") {
    til_1000 v;
    CHECK(compress_vec(v.plain).size() == 3276);
}

TEST_CASE("compress: short messages and too-small output buffers are left uncompressed") {
    bytes msg = plain_message(bytes(kCompressThreshold - kHeaderSize, 0));
    CHECK(compress_vec(msg).empty());  // exactly 2000 bytes: q needs more
    msg = plain_message(bytes(kCompressThreshold - kHeaderSize + 1, 0));
    CHECK_FALSE(compress_vec(msg).empty());
    bytes small(msg.size() / 2 - 1);
    CHECK(compress(msg, small) == 0);
}

TEST_CASE("compress: a result of exactly half the message is kept, as q keeps it") {
    // q tests the half-size limit only when a group starts (d > E - 17): a group that starts
    // at E - 17 and holds 8 matches ends exactly at E = size / 2, and q sends that output.
    // Here: 1400 incompressible bytes, then a zero run whose last group is 8 matches.
    std::mt19937_64 rng(1);
    bytes body(1400);
    for (auto& x : body) x = uint8_t(rng());
    body.resize(body.size() + 1804, 0);
    const bytes msg = plain_message(body);
    REQUIRE(msg.size() == 3212);
    const bytes packed = compress_vec(msg);
    CHECK(packed.size() == msg.size() / 2);
    bytes back;
    REQUIRE(decompress_vec(packed, back).ok());
    CHECK(back == msg);
}

TEST_CASE("compress: big-endian messages keep their byte order in both length fields") {
    til_1000 v;
    bytes be = v.plain;
    be[0] = 0;
    store_u32(be.data() + 4, uint32_t(be.size()), false);
    const bytes packed = compress_vec(be);
    REQUIRE(packed.size() == v.packed.size());
    CHECK(packed[0] == 0);
    CHECK(load_u32(packed.data() + 4, false) == packed.size());
    CHECK(load_u32(packed.data() + 8, false) == be.size());
    // The stream itself does not depend on the header.
    CHECK(std::equal(packed.begin() + 12, packed.end(), v.packed.begin() + 12));
    bytes back;
    REQUIRE(decompress_vec(packed, back).ok());
    CHECK(back == be);
}

TEST_CASE("compress: hostile input, truncated stream") {
    til_1000 v;
    bytes cut(v.packed.begin(), v.packed.end() - 1);
    bytes out(v.plain.size());
    status st = decompress(cut, out);  // header still claims the full length
    CHECK(st.code == errc::truncated);
    CHECK(st.offset == cut.size());
    // Every shorter stream whose header is made consistent runs dry before the output is full.
    for (size_t n = kMinCompressedLength; n < v.packed.size(); n += 7) {
        bytes m(v.packed.begin(), v.packed.begin() + long(n));
        set_u32(m, 4, uint32_t(n));
        st = decompress(m, out);
        INFO("prefix " << n);
        CHECK(st.code == errc::truncated);
        CHECK(st.offset == n);
    }
    st = decompress(bytes(v.packed.begin(), v.packed.begin() + 11), out);
    CHECK(st.code == errc::truncated);
}

TEST_CASE("compress: hostile input, back-references before the start or past the end") {
    // Control byte 0x01: the first item is a match, but the table is still empty, so it would
    // copy from position 0 (the header).
    bytes m = {1, 0, 1, 0, 16, 0, 0, 0, 20, 0, 0, 0, 0x01, 0x00, 0x05, 0};
    bytes out(20);
    status st = decompress(m, out);
    CHECK(st.code == errc::bad_compressed);
    CHECK(st.offset == 13);

    // Literals 'a','b' fill slot 'a'^'b' = 3 with position 8, then a match of 2 + 200 bytes
    // from there would write past the 20-byte output.
    m = {1, 0, 1, 0, 17, 0, 0, 0, 20, 0, 0, 0, 0x04, 'a', 'b', 0x03, 200};
    st = decompress(m, out);
    CHECK(st.code == errc::bad_compressed);
    CHECK(st.offset == 16);
    // The same match with a length that fits is fine: "ab" + 12 bytes of "abab..." (overlap).
    m[16] = 8;
    REQUIRE(decompress(m, out).ok());
    CHECK(std::string(out.begin() + 8, out.end()) == "abababababab");
}

TEST_CASE("compress: hostile input, lying uncompressed length") {
    til_1000 v;
    const uint32_t real = uint32_t(v.plain.size());
    uint64_t ulen = 0;
    REQUIRE(uncompressed_length(v.packed, real, ulen).ok());
    CHECK(ulen == real);

    // Over the caller's limit.
    status st = uncompressed_length(v.packed, real - 1, ulen);
    CHECK(st.code == errc::bad_uncompressed_len);
    CHECK(st.offset == 8);

    // Too small, output ending inside a match: til 1000 ends with a run of zero bytes that one
    // match covers, and that match would overrun the shorter output.
    bytes m = v.packed;
    set_u32(m, 8, real - 1);
    bytes out(real - 1);
    CHECK(decompress(m, out).code == errc::bad_compressed);
    // Too small, output ending on literals: the stream still has bytes when the output is full.
    bytes body(4000, 0);
    for (uint8_t k = 1; k <= 5; ++k) body.push_back(uint8_t(k * 37));
    bytes lit = compress_vec(plain_message(body));
    REQUIRE_FALSE(lit.empty());
    const uint32_t lit_real = load_u32(lit.data() + 8, true);
    set_u32(lit, 8, lit_real - 1);
    out.resize(lit_real - 1);
    st = decompress(lit, out);
    CHECK(st.code == errc::trailing_bytes);
    CHECK(st.offset == lit.size() - 1);
    set_u32(m, 8, 9);  // below the smallest message
    CHECK(uncompressed_length(m, real, ulen).code == errc::bad_uncompressed_len);
    out.resize(9);
    CHECK(decompress(m, out).code == errc::bad_uncompressed_len);

    // Too large: the stream runs dry.
    set_u32(m, 8, real + 1);
    out.assign(real + 1, 0);
    st = decompress(m, out);
    CHECK(st.code == errc::truncated);
    CHECK(st.offset == m.size());

    // Larger than any stream of this size could expand to, even under a generous limit.
    bytes tiny = {1, 0, 1, 0, 13, 0, 0, 0, 0, 0, 0, 0x40, 0};
    st = uncompressed_length(tiny, uint64_t{1} << 40, ulen);
    CHECK(st.code == errc::bad_uncompressed_len);

    // An output span that is not exactly the declared length is refused, not overrun.
    out.assign(real - 1, 0);
    CHECK(decompress(v.packed, out).code == errc::no_space);
}

TEST_CASE("compress: hostile input, header") {
    til_1000 v;
    bytes out(v.plain.size());
    bytes m = v.packed;
    m[2] = 0;
    CHECK(decompress(m, out).code == errc::bad_compressed_flag);
    m = v.packed;
    m[0] = 2;
    CHECK(decompress(m, out).code == errc::bad_endian);
    m = v.packed;
    set_u32(m, 4, 12);
    CHECK(decompress(m, out).code == errc::length_too_small);
    m = v.packed;
    m.push_back(0);  // bytes after the declared length are not part of the message
    CHECK(decompress(m, out).ok());
    CHECK(out == v.plain);
}

TEST_CASE("compress: each header check documented in compress.h, with its errc and offset") {
    til_1000 v;
    uint64_t ulen = 0;
    bytes out(v.plain.size());
    auto both = [&](const bytes& m, errc code, uint64_t offset) {
        const status a = uncompressed_length(m, uint64_t{1} << 32, ulen);
        const status b = decompress(m, out);
        CHECK(a.code == code);
        CHECK(a.offset == offset);
        CHECK(b.code == code);
        CHECK(b.offset == offset);
    };
    both(bytes(v.packed.begin(), v.packed.begin() + 11), errc::truncated, 11);
    bytes m = v.packed;
    m[0] = 7;
    both(m, errc::bad_endian, 0);
    m = v.packed;
    set_u32(m, 4, 12);
    both(m, errc::length_too_small, 4);
    m = v.packed;
    set_u32(m, 8, 9);
    both(m, errc::bad_uncompressed_len, 8);

    // Checked by decompress only: type and flag bytes, a compressed length past the input
    // (including through byte 3, bits 32..39), and an output of the wrong size.
    m = v.packed;
    m[1] = 3;
    CHECK(uncompressed_length(m, uint64_t{1} << 32, ulen).ok());
    CHECK(decompress(m, out).code == errc::bad_msg_type);
    m = v.packed;
    set_u32(m, 4, uint32_t(m.size() + 1));
    status st = decompress(m, out);
    CHECK(st.code == errc::truncated);
    CHECK(st.offset == m.size());
    m = v.packed;
    m[3] = 1;
    CHECK(decompress(m, out).code == errc::truncated);
    bytes big(v.plain.size() + 1);
    st = decompress(v.packed, big);
    CHECK(st.code == errc::no_space);
    CHECK(st.offset == 8);

    // Checked by uncompressed_length only: the caller's maximum and the 121x expansion bound
    // (3276 stream bytes can expand to at most 121 x 3264 body bytes).
    CHECK(uncompressed_length(v.packed, v.plain.size() - 1, ulen).code ==
          errc::bad_uncompressed_len);
    m = v.packed;
    set_u32(m, 8, uint32_t(8 + 121 * (m.size() - 12)));
    CHECK(uncompressed_length(m, uint64_t{1} << 32, ulen).ok());
    set_u32(m, 8, uint32_t(8 + 121 * (m.size() - 12) + 1));
    st = uncompressed_length(m, uint64_t{1} << 32, ulen);
    CHECK(st.code == errc::bad_uncompressed_len);
    CHECK(st.offset == 8);
}

namespace {

// Deterministic message bodies of several shapes: random (incompressible), short-period runs
// (overlapping copies of every distance), q-like long vectors, and mixtures.
bytes make_body(std::mt19937_64& rng, int kind, size_t n) {
    bytes b(n);
    switch (kind) {
    case 0:
        for (auto& x : b) x = uint8_t(rng());
        break;
    case 1: {
        const size_t period = 1 + rng() % 16;
        bytes pat(period);
        for (auto& x : pat) x = uint8_t(rng());
        for (size_t i = 0; i < n; ++i) b[i] = pat[i % period];
        break;
    }
    case 2:
        for (size_t i = 0; i + 8 <= n; i += 8) {
            const uint64_t x = rng() % 5000;
            for (int k = 0; k < 8; ++k) b[i + k] = uint8_t(x >> (8 * k));
        }
        break;
    default:
        for (size_t i = 0; i < n; ++i) b[i] = (rng() % 7 == 0) ? uint8_t(rng()) : uint8_t(i % 3);
        break;
    }
    return b;
}

}  // namespace

TEST_CASE("compress: round trip over generated data") {
    std::mt19937_64 rng(20261123);
    int compressed = 0;
    for (int iter = 0; iter < 400; ++iter) {
        const size_t n = 1995 + rng() % (iter < 300 ? 6000 : 200000);
        const int kind = int(rng() % 4);
        const bool le = (iter % 5) != 0;
        const bytes msg = plain_message(make_body(rng, kind, n), le, msg_type(iter % 3));
        const bytes packed = compress_vec(msg);
        INFO("iter " << iter << " kind " << kind << " size " << msg.size());
        if (packed.empty()) {
            CHECK((msg.size() <= kCompressThreshold || kind == 0 || kind == 3));
            continue;
        }
        ++compressed;
        CHECK(packed.size() <= msg.size() / 2);
        bytes back;
        REQUIRE(decompress_vec(packed, back).ok());
        CHECK(back == msg);
    }
    CHECK(compressed > 150);
}
