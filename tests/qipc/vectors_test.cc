// Every plain vector in shared/qipc-vectors, read in place: the walker consumes each body
// exactly, decode succeeds, and re-encoding reproduces the bytes. Each body is also converted
// to big-endian here (independently of the codec, by swapping with the walker's offsets) to
// check that a big-endian decode yields the same value. Totals are asserted so a missing or
// shortened file fails the test instead of silently checking less.

#include <doctest/doctest.h>

#include <algorithm>

#include "qgate/qipc/frame.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/walker.h"
#include "qgate/qipc/writer.h"
#include "qipc_test_util.h"

namespace qgate::qipc {
namespace {

using test::hex;

void reverse_at(std::vector<uint8_t>& b, uint64_t at, int width) {
    std::reverse(b.begin() + long(at), b.begin() + long(at) + width);
}

// Rewrites, in `out` (a copy of the walked LE body), every multi-byte number of `v` to
// big-endian: counts, and elements of width 2, 4, 8. Guids (16) are text and stay.
void to_big_endian(const walker& w, const object_view& v, std::vector<uint8_t>& out) {
    const int t = v.type;
    if (t < 0) {
        const int width = atom_size(t);
        if (width == 2 || width == 4 || width == 8) reverse_at(out, v.offset + 1, width);
        return;
    }
    if (t >= 0 && t <= 19) reverse_at(out, v.offset + 2, 4);
    if (t == qtype::kProjection || t == qtype::kComposition) reverse_at(out, v.offset + 1, 4);
    if (t >= 1 && t <= 19) {
        const int width = elem_size(t);
        if (width == 2 || width == 4 || width == 8) {
            for (uint64_t i = 0; i < v.count; ++i) reverse_at(out, v.offset + 6 + i * width, width);
        }
        return;
    }
    child_cursor cur(w, v);
    object_view c;
    while (cur.next(c)) to_big_endian(w, c, out);
    REQUIRE(cur.error().ok());
}

// The full check on one little-endian body; returns the decoded value.
value check_body(const std::vector<uint8_t>& body) {
    const walker w(body, true);
    object_view top;
    const status st = w.validate(&top);
    INFO("walk: " << std::string(errc_name(st.code)) << " at " << st.offset);
    REQUIRE(st.ok());
    CHECK(top.bytes.size() == body.size());
    CHECK(top.offset == 0);

    value v;
    REQUIRE(decode(body, true, v).ok());
    REQUIRE(encoded_size(v) == body.size());
    std::vector<uint8_t> again(body.size() + 1, 0xee);
    CHECK(encode_into(v, again.data()) == again.data() + body.size());
    CHECK(again.back() == 0xee);  // wrote exactly encoded_size bytes
    again.pop_back();
    CHECK(again == body);

    std::vector<uint8_t> be = body;
    to_big_endian(w, top, be);
    value from_be;
    REQUIRE(walker(be, false).validate().ok());
    REQUIRE(decode(be, false, from_be).ok());
    CHECK(from_be == v);
    return v;
}

struct tsv_totals {
    int round_tripped = 0;
    int compressed_skipped = 0;
    int rejected = 0;
};

// Whole-message vectors: header, then the body check, then encode_message == original.
tsv_totals check_messages(const std::vector<test::vector_case>& cases) {
    tsv_totals totals;
    for (const test::vector_case& c : cases) {
        INFO("vector: " << c.name);
        frame_header h;
        REQUIRE(parse_header(c.bytes, h).ok());
        REQUIRE(h.length == c.bytes.size());
        if (h.compressed) {  // decompression belongs to compress_test.cc
            ++totals.compressed_skipped;
            continue;
        }
        const std::vector<uint8_t> body(c.bytes.begin() + kHeaderSize, c.bytes.end());
        if (!h.little_endian) {
            ++totals.rejected;  // checked by name in its own test case below
            continue;
        }
        const value v = check_body(body);
        CHECK(encode_message(v, h.type) == c.bytes);
        value whole;
        frame_header h2;
        REQUIRE(decode_message(c.bytes, h2, whole).ok());
        CHECK(whole == v);
        ++totals.round_tripped;
    }
    return totals;
}

const value* find(const std::vector<std::pair<std::string, value>>& all, std::string_view name) {
    for (const auto& [n, v] : all) {
        if (n == name) return &v;
    }
    return nullptr;
}

TEST_CASE("qPython QExpressions3: 118 q-produced bodies walk, decode and re-encode exactly") {
    const auto cases = test::read_qpython("qpython-QExpressions3.out");
    REQUIRE(cases.size() == 118);
    std::vector<std::pair<std::string, value>> decoded;
    for (const test::vector_case& c : cases) {
        INFO("expression: " << c.name);
        decoded.emplace_back(c.name, check_body(c.bytes));
    }
    CHECK(decoded.size() == 118);

    // Spot checks that the values, not just the bytes, are right.
    REQUIRE(find(decoded, "1+`") != nullptr);
    CHECK(*find(decoded, "1+`") == value::error("type"));
    CHECK(*find(decoded, "1i") == value::int_(1));
    CHECK(*find(decoded, "-234h") == value::short_(-234));
    CHECK(*find(decoded, "`abc") == value::symbol("abc"));
    CHECK(*find(decoded, "`") == value::symbol(""));
    CHECK(*find(decoded, "::") == value::generic_null());
    CHECK(*find(decoded, "\"abc\"") == value::string("abc"));
    CHECK(*find(decoded, "3.234") == value::float_(3.234));
    CHECK(*find(decoded, "5.5e") == value::real(5.5f));
    CHECK(find(decoded, "0n")->raw == hex("000000000000f87f"));  // q's NaN bits, kept
    CHECK(find(decoded, "0Ne")->raw == hex("0000c07f"));
    const int64_t l123[] = {1, 2, 3};
    CHECK(*find(decoded, "1 2 3") == value::longs(l123));
    CHECK(*find(decoded, "``quick``fox") == value::symbols({"", "quick", "", "fox"}));
    const value* guid = find(decoded, "\"G\"$\"8c680a01-5a49-5aab-5a65-d4bfddb6a661\"");
    REQUIRE(guid != nullptr);
    CHECK(guid->raw == hex("8c680a015a495aab5a65d4bfddb6a661"));  // text order
    const int64_t l456[] = {4, 5, 6};
    CHECK(*find(decoded, "flip `abc`def!(1 2 3; 4 5 6)") ==
          value::table({"abc", "def"}, {value::longs(l123), value::longs(l456)}));
    CHECK(find(decoded, "flip `abc`def!(1 2 3; 4 5 6)")->count() == 3);
    const value* keyed = find(decoded, "([k: 1 2 3] v: `a`b`c)");
    REQUIRE(keyed != nullptr);
    CHECK(keyed->type == qtype::kDict);
    CHECK(keyed->count() == 3);
    CHECK(keyed->items[0].type == qtype::kTable);
    const value* lambda = find(decoded, "xbar");
    REQUIRE(lambda != nullptr);
    CHECK(lambda->syms == std::vector<std::string>{"q"});
    CHECK(lambda->items.at(0).type == qtype::kChar);
    CHECK(find(decoded, "sums")->type == 108);
    CHECK(find(decoded, "not")->raw == std::vector<uint8_t>{0x0f});
}

TEST_CASE("KX docs, misc and javakdb whole messages round-trip; totals match the README") {
    const tsv_totals kx = check_messages(test::read_tsv("kx-docs-serialization.tsv", 1));
    CHECK(kx.round_tripped == 15);
    CHECK(kx.compressed_skipped == 0);
    CHECK(kx.rejected == 0);

    const tsv_totals misc = check_messages(test::read_tsv("misc-q-vectors.tsv", 1));
    CHECK(misc.round_tripped == 1);

    // 8 rows: 6 plain little-endian, 1 javakdb-compressed (compress_test.cc), 1 big-endian enum.
    const tsv_totals jk = check_messages(test::read_tsv("javakdb-ctest-vectors.tsv", 0));
    CHECK(jk.round_tripped == 6);
    CHECK(jk.compressed_skipped == 1);
    CHECK(jk.rejected == 1);

    CHECK(kx.round_tripped + misc.round_tripped + jk.round_tripped == 22);
}

TEST_CASE("javakdb sorted dict, keyed tables and splayed table reference") {
    const auto kx = test::read_tsv("kx-docs-serialization.tsv", 1);
    const auto sorted = std::find_if(kx.begin(), kx.end(),
                                     [](const auto& c) { return c.name == "-8!`s#`a`b!2 3i"; });
    REQUIRE(sorted != kx.end());
    value v;
    frame_header h;
    REQUIRE(decode_message(sorted->bytes, h, v).ok());
    CHECK(v.type == qtype::kSortedDict);
    CHECK(v.items.at(0).attr == 1);
    CHECK(v.count() == 2);

    const auto jk = test::read_tsv("javakdb-ctest-vectors.tsv", 0);
    const auto splayed = std::find_if(jk.begin(), jk.end(),
                                      [](const auto& c) { return c.name == "splayed-table-ref"; });
    REQUIRE(splayed != jk.end());
    REQUIRE(decode_message(splayed->bytes, h, v).ok());
    CHECK(h.type == msg_type::response);
    REQUIRE(v.type == qtype::kTable);
    CHECK(v.items.at(0).items.at(1) == value::symbol(":test/"));
    CHECK(v.count() == 0);  // a splayed reference carries no row count
}

TEST_CASE("javakdb big-endian vector: enum body refused, the same body as ints decodes") {
    const auto jk = test::read_tsv("javakdb-ctest-vectors.tsv", 0);
    const auto be = std::find_if(jk.begin(), jk.end(),
                                 [](const auto& c) { return c.name == "big-endian-enum"; });
    REQUIRE(be != jk.end());
    frame_header h;
    REQUIRE(parse_header(be->bytes, h).ok());
    CHECK_FALSE(h.little_endian);
    CHECK(h.type == msg_type::async);
    CHECK(h.length == 22);

    // Type 20 is an enumeration: q never sends one over IPC, so the walker refuses it.
    std::vector<uint8_t> body(be->bytes.begin() + kHeaderSize, be->bytes.end());
    value v;
    status st = decode(body, false, v);
    CHECK(st.code == errc::bad_type);
    CHECK(st.offset == 0);
    value whole;
    st = decode_message(be->bytes, h, whole);
    CHECK(st.code == errc::bad_type);
    CHECK(st.offset == kHeaderSize);

    // The same big-endian payload as an int vector (6): 100 200, converted to little-endian.
    body[0] = qtype::kInt;
    REQUIRE(decode(body, false, v).ok());
    CHECK(v == value::fixed(qtype::kInt, hex("64000000c8000000")));
    const std::vector<uint8_t> le = encode_message(v, msg_type::async);
    CHECK(le == hex("0100000016000000 0600 02000000 64000000 c8000000"));
    value back;
    REQUIRE(decode_message(le, h, back).ok());
    CHECK(h.little_endian);
    CHECK(back == v);
}

}  // namespace
}  // namespace qgate::qipc
