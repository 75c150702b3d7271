// Incoming updates: (`upd;`t;table) from a tickerplant, (".u.upd";`t;columns) and one row of
// atoms from a feed handler; hostile variants.

#include <doctest/doctest.h>

#include "pubsub_test_util.h"

namespace qgate::pubsub {
namespace {

using test::body;
using test::value;

errc parse_err(const value& v) {
    const auto b = body(v);
    update_view u;
    return parse_update(b, true, u).code;
}

TEST_CASE("(`upd;`trade;table) as a tickerplant publishes it") {
    const auto b = body(test::upd("trade", test::trades({"A", "B", "A"})));
    CHECK(is_update_call(b, true));
    update_view u;
    REQUIRE(parse_update(b, true, u).ok());
    CHECK(u.kind == upd_kind::upd);
    CHECK(u.shape == data_shape::table);
    CHECK(u.table == "trade");
    CHECK(u.rows == 3);
    CHECK(u.column_count == 5);
    CHECK(u.sym_column == 1);
    CHECK(u.sym.type == qipc::qtype::kSymbol);
    CHECK(u.forwardable);
}

TEST_CASE("the reference's javakdb upd bytes") {
    // (`upd;`trade;([]sym:`a`b;px:1.5 2.5)) body, from qipc-reference.md §6.2
    const std::vector<uint8_t> b = {
        0x00, 0x00, 0x03, 0, 0, 0, 0xf5, 'u', 'p', 'd', 0, 0xf5, 't', 'r', 'a', 'd', 'e', 0,
        0x62, 0x00, 0x63, 0x0b, 0x00, 0x02, 0, 0, 0, 's', 'y', 'm', 0, 'p', 'x', 0,
        0x00, 0x00, 0x02, 0, 0, 0, 0x0b, 0x00, 0x02, 0, 0, 0, 'a', 0, 'b', 0,
        0x09, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0, 0, 0, 0, 0, 0, 0x04, 0x40};
    update_view u;
    REQUIRE(parse_update(b, true, u).ok());
    CHECK(u.sym_column == 0);
    CHECK(u.rows == 2);
}

TEST_CASE("(\".u.upd\";`trade;columns) from a feed: sym at index 1 by default") {
    const auto b = body(test::upd("trade", test::trade_columns({"A", "B"}), ".u.upd"));
    update_view u;
    REQUIRE(parse_update(b, true, u).ok());
    CHECK(u.kind == upd_kind::u_upd);
    CHECK(u.shape == data_shape::columns);
    CHECK(u.rows == 2);
    CHECK(u.sym_column == 1);
    CHECK_FALSE(u.forwardable);
    // The char-vector function name (Java) works too.
    const auto j = body(value::list({value::string(".u.upd"), value::symbol("trade"),
                                     test::trade_columns({"A"})}));
    REQUIRE(parse_update(j, true, u).ok());
    CHECK(u.kind == upd_kind::u_upd);
}

TEST_CASE("the stored schema says where sym is for column lists") {
    schema_store s;
    const auto schema = body(value::table({"sym", "px"}, {value::symbols({}),
                                                          value::floats(std::vector<double>{})}));
    REQUIRE(s.add("q", schema).ok());
    const auto b = body(test::upd("q", value::list({value::symbols({"X", "Y"}),
                                                    value::floats(std::vector<double>{1, 2})}),
                                  ".u.upd"));
    update_view u;
    CHECK(parse_update(b, true, u).code == errc::sym_not_symbols);  // index 1 is px
    REQUIRE(parse_update(b, true, u, &s).ok());
    CHECK(u.sym_column == 0);
}

TEST_CASE("one row of atoms") {
    const auto b = body(test::upd("trade", value::list({value::long_(5), value::symbol("A"),
                                                        value::float_(1.5),
                                                        value::string("cond")}),
                                  ".u.upd"));
    update_view u;
    REQUIRE(parse_update(b, true, u).ok());
    CHECK(u.shape == data_shape::row);
    CHECK(u.rows == 1);
    CHECK(qipc::symbol_text(u.sym) == "A");
}

TEST_CASE("wrong and hostile updates get specific errors") {
    const value cols = test::trade_columns({"A"});
    CHECK(parse_err(value::long_(1)) == errc::not_a_call);
    CHECK(parse_err(value::list({value::symbol("f"), value::symbol("t"), cols})) ==
          errc::wrong_function);
    CHECK(parse_err(value::list({value::symbol("upd"), value::symbol("t")})) == errc::rank);
    CHECK(parse_err(value::list({value::symbol("upd"), value::long_(1), cols})) ==
          errc::bad_table_arg);
    CHECK(parse_err(value::list({value::symbol("upd"), value::symbol(""), cols})) ==
          errc::bad_table_arg);
    CHECK(parse_err(test::upd("t", value::long_(1))) == errc::bad_data);
    CHECK(parse_err(test::upd("t", value::list({}))) == errc::bad_data);
    CHECK(parse_err(test::upd("t", value::dict(value::symbols({"a"}), value::longs(
                                                   std::vector<int64_t>{1}))))
          == errc::bad_data);
    // ragged: sym has 2 rows, time 1
    CHECK(parse_err(test::upd("t", value::list({value::longs(std::vector<int64_t>{1}),
                                                value::symbols({"a", "b"})}))) ==
          errc::ragged_columns);
    CHECK(parse_err(test::upd("t", value::list({value::longs(std::vector<int64_t>{1})}))) ==
          errc::no_sym_column);
    CHECK(parse_err(test::upd("t", value::table({"a"}, {value::symbols({"x"})}))) ==
          errc::no_sym_column);
    CHECK(parse_err(test::upd("t", value::table({"sym"}, {value::longs(
                                                   std::vector<int64_t>{1})}))) ==
          errc::sym_not_symbols);
    CHECK(parse_err(test::upd("t", value::list({value::long_(1), value::long_(2)}))) ==
          errc::sym_not_symbols);
}

TEST_CASE("truncation anywhere is malformed; a splayed table reference is bad_data") {
    const auto good = body(test::upd("trade", test::trades({"A", "B"})));
    for (size_t n = 0; n < good.size(); ++n) {
        update_view u;
        const status st = parse_update(std::span<const uint8_t>(good.data(), n), true, u);
        CHECK(st.code == errc::malformed);
    }
    // 62 00 63 <names> f5 ":db/" 00: the value part is a symbol, not columns
    std::vector<uint8_t> b = {0x00, 0x00, 0x03, 0, 0, 0, 0xf5, 'u', 'p', 'd', 0, 0xf5, 't', 0,
                              0x62, 0x00, 0x63, 0x0b, 0x00, 0x01, 0, 0, 0, 's', 'y', 'm', 0,
                              0xf5, ':', 'd', 'b', '/', 0};
    update_view u;
    CHECK(parse_update(b, true, u).code == errc::bad_data);
}

}  // namespace
}  // namespace qgate::pubsub

namespace qgate::pubsub {
namespace {

/// Every accepted mutation of a valid update must republish into bytes that decode: the
/// encoder never writes a message a subscriber would reject, whatever parse_update let in.
void mutate_and_republish(const std::vector<uint8_t>& good, const schema_store* s) {
    uint64_t accepted = 0;
    const uint8_t values[] = {0x00, 0x01, 0x02, 0x0b, 0x62, 0x63, 0x7f, 0x80, 0xf5, 0xff};
    for (size_t i = 0; i < good.size(); ++i) {
        for (uint8_t v : values) {
            std::vector<uint8_t> b = good;
            b[i] = v;
            update_view u;
            if (!parse_update(b, true, u, s).ok()) continue;
            ++accepted;
            row_selection sel;
            publish_ctx ctx{&u, {}, s == nullptr ? std::span<const uint8_t>{}
                                                 : s->column_names(0), &sel, {}};
            for (const sym_filter& f : {sym_filter::all(), sym_filter::of({"A"})}) {
                publish_kind kind{};
                update_ref out;
                const status st = publish_for(ctx, f, kind, out);
                if (st.code == errc::schema_mismatch) break;  // a column added or lost
                REQUIRE_MESSAGE(st.ok(), errc_name(st.code));
                if (out) test::decode_msg(out.bytes());
            }
        }
    }
    CHECK(accepted > 0);
}

TEST_CASE("mutated updates: whatever parses republishes into valid q bytes") {
    mutate_and_republish(test::body(test::upd("trade", test::trades({"A", "B", "A"}))),
                         nullptr);
    schema_store s;
    REQUIRE(s.add("trade", test::body(test::trades({}))).ok());
    mutate_and_republish(
        test::body(test::upd("trade", test::trade_columns({"A", "B"}), ".u.upd")), &s);
}

}  // namespace
}  // namespace qgate::pubsub
