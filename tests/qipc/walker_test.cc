// The zero-copy walker: object_view fields, child_cursor over every container kind, accessors.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "qgate/qipc/walker.h"
#include "qipc_test_util.h"

namespace qgate::qipc {
namespace {

using test::hex;

object_view top_of(const walker& w) {
    object_view v;
    const status st = w.validate(&v);
    INFO(std::string(errc_name(st.code)) << " at " << st.offset);
    REQUIRE(st.ok());
    return v;
}

std::vector<object_view> children(const walker& w, const object_view& v) {
    std::vector<object_view> out;
    child_cursor cur(w, v);
    object_view c;
    while (cur.next(c)) out.push_back(c);
    REQUIRE(cur.error().ok());
    return out;
}

TEST_CASE("atoms: type, count 1, exact span, symbol and error text") {
    const auto body = hex("f5616263 00");
    const walker w(body, true);
    const object_view v = top_of(w);
    CHECK(v.type == -11);
    CHECK(v.is_atom());
    CHECK(v.count == 1);
    CHECK(v.bytes.size() == 5);
    CHECK(symbol_text(v) == "abc");
    CHECK(char_text(v).empty());
    CHECK(vector_data(v) == nullptr);

    const auto err = hex("8074797065 00");
    const object_view e = top_of(walker(err, true));
    CHECK(e.type == qtype::kError);
    CHECK_FALSE(e.is_atom());
    CHECK(symbol_text(e) == "type");

    const auto guid = hex("fe8c680a015a495aab5a65d4bfddb6a661");
    CHECK(top_of(walker(guid, true)).bytes.size() == 17);
    const auto ts = hex("f400c0cafa20fe0000");
    CHECK(top_of(walker(ts, true)).bytes.size() == 9);
}

TEST_CASE("vectors: attribute, count, data pointer, char text") {
    const auto body = hex("0603 02000000 01000000 02000000");
    const walker w(body, true);
    const object_view v = top_of(w);
    CHECK(v.is_vector());
    CHECK(v.attr == 3);
    CHECK(v.count == 2);
    CHECK(vector_data(v) == body.data() + 6);

    const auto str = hex("0a00 03000000 616263");
    const object_view s = top_of(walker(str, true));
    CHECK(char_text(s) == "abc");

    const auto syms = hex("0b00 04000000 00 717569636b00 00 666f7800");
    const object_view y = top_of(walker(syms, true));
    CHECK(y.count == 4);
    CHECK(y.bytes.size() == syms.size());

    const auto empty = hex("0600 00000000");
    CHECK(top_of(walker(empty, true)).count == 0);
}

TEST_CASE("big-endian counts") {
    const auto body = hex("0600 00000002 00000064 000000c8");
    const object_view v = top_of(walker(body, false));
    CHECK(v.count == 2);
    CHECK(v.bytes.size() == body.size());
    // The same bytes read little-endian claim 0x02000000 ints: rejected before any loop.
    CHECK(walker(body, true).validate().code == errc::count_too_large);
    const auto proj = hex("68 00000002 6605 f9 0100000000000000");
    CHECK(top_of(walker(proj, false)).count == 2);
}

TEST_CASE("general list children") {
    const auto body = hex("000003000000f92a000000000000006500f5666f6f00");  // (42;::;`foo)
    const walker w(body, true);
    const object_view v = top_of(w);
    CHECK(v.count == 3);
    const auto c = children(w, v);
    REQUIRE(c.size() == 3);
    CHECK(c[0].type == -7);
    CHECK(c[0].offset == 6);
    CHECK(c[1].type == qtype::kUnary);
    CHECK(c[1].count == 0);
    CHECK(symbol_text(c[2]) == "foo");
    CHECK(c[2].offset + c[2].bytes.size() == body.size());
}

TEST_CASE("dict, sorted dict, table, keyed table") {
    const auto dict = hex("630b0002000000610062000600020000000200000003000000");
    const walker wd(dict, true);
    const object_view d = top_of(wd);
    CHECK(d.count == 2);
    auto kv = children(wd, d);
    REQUIRE(kv.size() == 2);
    CHECK(kv[0].type == qtype::kSymbol);
    CHECK(kv[1].type == qtype::kInt);

    auto sorted = dict;
    sorted[0] = 0x7f;
    sorted[2] = 0x01;
    const walker ws(sorted, true);
    CHECK(children(ws, top_of(ws)).size() == 2);

    const auto table =
        hex("6201630b0002000000610062000000020000000603010000000200000006000100000003000000");
    const walker wt(table, true);
    const object_view t = top_of(wt);
    CHECK(t.type == qtype::kTable);
    CHECK(t.attr == 1);
    CHECK(t.count == 1);
    const auto inner = children(wt, t);
    REQUIRE(inner.size() == 1);
    CHECK(inner[0].type == qtype::kDict);
    CHECK(inner[0].offset == 2);
    const auto cols = children(wt, children(wt, inner[0])[1]);
    REQUIRE(cols.size() == 2);
    CHECK(cols[0].attr == 3);

    const auto keyed = hex(
        "636200630b00010000006100000001000000060001000000020000006200630b00010000006200000001"
        "00000006000100000003000000");
    const walker wk(keyed, true);
    const auto halves = children(wk, top_of(wk));
    REQUIRE(halves.size() == 2);
    CHECK(halves[0].type == qtype::kTable);
    CHECK(halves[1].type == qtype::kTable);
}

TEST_CASE("splayed table: the dict value is a symbol") {
    const auto body = hex("6200630b00010000006100f53a746573742f00");
    const walker w(body, true);
    const object_view t = top_of(w);
    const auto d = children(w, t);
    const auto kv = children(w, d.at(0));
    REQUIRE(kv.size() == 2);
    CHECK(symbol_text(kv[1]) == ":test/");
}

TEST_CASE("functions: lambda, primitives, projection, composition, adverbs") {
    const auto lambda = hex("6471000a00050000007b782b797d");  // {x+y} in context q
    const walker wl(lambda, true);
    const object_view l = top_of(wl);
    CHECK(l.count == 1);
    const auto src = children(wl, l);
    REQUIRE(src.size() == 1);
    CHECK(char_text(src[0]) == "{x+y}");
    CHECK(src[0].offset == 3);

    const auto not_ = hex("650f");
    const walker wn(not_, true);
    CHECK(top_of(wn).count == 0);
    CHECK(children(wn, top_of(wn)).empty());

    const auto any = hex("6902000000651c6802000000660bf662");
    const walker wa(any, true);
    const auto parts = children(wa, top_of(wa));
    REQUIRE(parts.size() == 2);
    CHECK(parts[1].type == qtype::kProjection);
    CHECK(children(wa, parts[1]).size() == 2);

    const auto sums = hex("6c6601");
    const walker wsum(sums, true);
    const auto f = children(wsum, top_of(wsum));
    REQUIRE(f.size() == 1);
    CHECK(f[0].type == qtype::kBinary);
    for (int t = qtype::kEach; t <= qtype::kEachRight; ++t) {
        const std::vector<uint8_t> b{uint8_t(t), 0x66, 0x01};
        CHECK(walker(b, true).validate().ok());
    }
}

TEST_CASE("at() on an inner offset and on a non-container") {
    const auto body = hex("000002000000f90100000000000000f500");
    const walker w(body, true);
    object_view v;
    REQUIRE(w.at(15, v).ok());
    CHECK(v.type == -11);
    CHECK(v.offset == 15);
    CHECK(v.bytes.size() == 2);
    CHECK(w.at(body.size(), v).code == errc::truncated);
    child_cursor none(w, v);
    object_view c;
    CHECK_FALSE(none.next(c));
    CHECK(none.error().ok());
}

TEST_CASE("depth_max is exact") {
    // n nested single-item lists around one atom: n levels of nesting.
    auto nested = [](int n) {
        std::vector<uint8_t> b;
        for (int i = 0; i < n; ++i) {
            const auto head = hex("0000 01000000");
            b.insert(b.end(), head.begin(), head.end());
        }
        b.push_back(0xff);
        b.push_back(0x01);
        return b;
    };
    CHECK(walker(nested(64), true).validate().ok());
    const status st = walker(nested(65), true).validate();
    CHECK(st.code == errc::too_deep);
    CHECK(st.offset == 65 * 6);
    CHECK(walker(nested(3), true, walk_limits{3}).validate().ok());
    CHECK(walker(nested(4), true, walk_limits{3}).validate().code == errc::too_deep);
    CHECK(walker(nested(0), true, walk_limits{0}).validate().ok());
}

}  // namespace
}  // namespace qgate::qipc
