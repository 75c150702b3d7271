// Schema store (from an upstream's .u.sub reply or a publisher's first update), the .u.sub
// reply a tickerplant sends, and .u.end.

#include <doctest/doctest.h>

#include "pubsub_test_util.h"

namespace qgate::pubsub {
namespace {

using test::body;
using test::value;

value quote_schema() {
    return value::table({"time", "sym", "bid"},
                        {test::fixed_vector(qipc::qtype::kTimestamp, {}, 8), value::symbols({}),
                         value::floats(std::vector<double>{})});
}

schema_store two_tables() {
    schema_store s;
    REQUIRE(s.add("trade", body(test::trades({}))).ok());
    REQUIRE(s.add("quote", body(quote_schema())).ok());
    return s;
}

value reply_of(const schema_store& s, const std::vector<uint8_t>& call, errc want = errc::ok) {
    sub_request r;
    REQUIRE(parse_sub(call, true, qipc::msg_type::sync, r).ok());
    std::vector<uint8_t> out;
    std::string_view missing;
    const status st = build_sub_reply(s, r, out, missing);
    REQUIRE(st.code == want);
    if (!st) return value::symbol(std::string(missing));
    qipc::frame_header h;
    value v;
    REQUIRE(qipc::decode_message(out, h, v).ok());
    CHECK(h.type == qipc::msg_type::response);
    return v;
}

TEST_CASE(".u.sub[`trade;`AAPL] is answered (`trade;schema)") {
    const schema_store s = two_tables();
    const value v = reply_of(s, body(value::string(".u.sub[`trade;`AAPL]")));
    CHECK(v == value::list({value::symbol("trade"), test::trades({})}));
}

TEST_CASE(".u.sub[`;`] is answered with every table's pair, in store order") {
    const schema_store s = two_tables();
    const value v = reply_of(s, body(value::list({value::symbol(".u.sub"), value::symbol(""),
                                                  value::symbol("")})));
    CHECK(v == value::list({value::list({value::symbol("trade"), test::trades({})}),
                            value::list({value::symbol("quote"), quote_schema()})}));
}

TEST_CASE("a table list (extension) gets a list of pairs; an unknown table names itself") {
    const schema_store s = two_tables();
    const value v = reply_of(s, body(value::string(".u.sub[`quote`trade;`]")));
    CHECK(v.items.size() == 2);
    CHECK(v.items[0].items[0] == value::symbol("quote"));
    CHECK(reply_of(s, body(value::string(".u.sub[`nosuch;`]")), errc::unknown_table) ==
          value::symbol("nosuch"));
}

// Issue 16: node-q's k(".u.sub", ["trade","quote"], "") sends the tables as a list of strings,
// which was 'type though one string names one table; every table-list form subscribes each.
TEST_CASE("every form of a table list gets the list of pairs, in the order named") {
    const schema_store s = two_tables();
    const value want = value::list({value::list({value::symbol("quote"), quote_schema()}),
                                    value::list({value::symbol("trade"), test::trades({})})});
    const value forms[] = {
        value::list({value::symbol(".u.sub"), value::symbols({"quote", "trade"}),
                     value::symbol("")}),
        value::list({value::string(".u.sub"),
                     value::list({value::string("quote"), value::string("trade")}),
                     value::string("")}),
        value::list({value::symbol(".u.sub"),
                     value::list({value::symbol("quote"), value::string("trade")}),
                     value::list({value::string("AAPL"), value::symbol("IBM")})}),
        value::string(".u.sub[`quote`trade;`]"),
        value::string(".u.sub[(`quote;`trade);`AAPL`IBM]"),
    };
    for (const value& f : forms) CHECK(reply_of(s, body(f)) == want);
    sub_request r;
    const auto b = body(forms[2]);
    REQUIRE(parse_sub(b, true, qipc::msg_type::sync, r).ok());
    CHECK(to_strings(r.syms) == std::vector<std::string>{"AAPL", "IBM"});
    CHECK(reply_of(s, body(value::list({value::string(".u.sub"),
                                        value::list({value::string("quote"),
                                                     value::string("nosuch")}),
                                        value::string("")})),
                   errc::unknown_table) == value::symbol("nosuch"));
}

TEST_CASE("r.q's sync call gets ((pairs);(0N;`)) so its log replay is skipped") {
    const schema_store s = two_tables();
    const value v = reply_of(s, body(value::string("(.u.sub[`;`];`.u `i`L)")));
    REQUIRE(v.items.size() == 2);
    CHECK(v.items[0].items.size() == 2);
    CHECK(v.items[1] == value::list({value::long_(INT64_MIN), value::symbol("")}));
}

TEST_CASE("load_sub_reply reads all three reply shapes back") {
    const schema_store s = two_tables();
    for (const char* call : {".u.sub[`trade;`]", ".u.sub[`;`]", "(.u.sub[`;`];`.u `i`L)"}) {
        sub_request r;
        const auto b = body(value::string(call));
        REQUIRE(parse_sub(b, true, qipc::msg_type::sync, r).ok());
        std::vector<uint8_t> out;
        std::string_view missing;
        REQUIRE(build_sub_reply(s, r, out, missing).ok());
        schema_store loaded;
        REQUIRE(loaded.load_sub_reply(std::span(out).subspan(8), true).ok());
        CHECK(loaded.size() == (r.all_tables ? 2u : 1u));
        CHECK(loaded.find("trade") == 0);
        const auto schema = loaded.schema(0);
        CHECK(std::vector<uint8_t>(schema.begin(), schema.end()) == body(test::trades({})));
        CHECK(loaded.sym_column(0) == 1);
    }
    schema_store bad;
    CHECK(bad.load_sub_reply(body(value::long_(1)), true).code == errc::bad_data);
    CHECK(bad.load_sub_reply(body(value::list({value::long_(1), value::long_(2)})), true).code ==
          errc::bad_data);
    const auto good = body(value::list({value::symbol("t"), test::trades({})}));
    CHECK(bad.load_sub_reply(std::span(good).first(good.size() - 1), true).code ==
          errc::malformed);
}

TEST_CASE("column names and sym position come from the stored schema") {
    const schema_store s = two_tables();
    const auto names = s.column_names(1);
    CHECK(std::vector<uint8_t>(names.begin(), names.end()) ==
          body(value::symbols({"time", "sym", "bid"})));
    CHECK(s.find("quote") == 1);
    CHECK(s.find("nope") == -1);
}

TEST_CASE("learn: 0# of a publisher's first table update, `g# on sym, as u.q does") {
    schema_store s;
    const auto b = body(test::upd("trade", test::trades({"A", "B"})));
    update_view u;
    REQUIRE(parse_update(b, true, u).ok());
    REQUIRE(s.learn(u).ok());
    value want = test::trades({});
    want.items[0].items[1].items[1].attr = 4;  // `g#
    value got;
    REQUIRE(qipc::decode(s.schema(0), true, got).ok());
    CHECK(got == want);
    const auto cols = body(test::upd("quote", test::trade_columns({"A"}), ".u.upd"));
    REQUIRE(parse_update(cols, true, u).ok());
    CHECK(s.learn(u).code == errc::unknown_table);  // no names to learn from
}

TEST_CASE(".u.end: the reference's bytes for 2024.01.02, and parsing it back") {
    uint8_t buf[kEndMessageSize];
    REQUIRE(write_end_message(8767, buf) == kEndMessageSize);
    const std::vector<uint8_t> want = {0x01, 0x00, 0x00, 0x00, 0x1b, 0x00, 0x00, 0x00, 0x00,
                                       0x00, 0x02, 0x00, 0x00, 0x00, 0xf5, '.',  'u',  '.',
                                       'e',  'n',  'd',  0x00, 0xf2, 0x3f, 0x22, 0x00, 0x00};
    CHECK(std::vector<uint8_t>(buf, buf + sizeof buf) == want);
    int32_t d = 0;
    REQUIRE(parse_end(std::span(want).subspan(8), true, d).ok());
    CHECK(d == 8767);
    CHECK(write_end_message(1, std::span(buf).first(10)) == 0);
    CHECK(parse_end(body(value::list({value::symbol(".u.end")})), true, d).code == errc::rank);
    CHECK(parse_end(body(value::list({value::symbol(".u.end"), value::long_(1)})), true, d)
              .code == errc::bad_data);
    CHECK(parse_end(body(value::list({value::symbol("upd"), value::long_(1)})), true, d).code ==
          errc::wrong_function);
    CHECK(parse_end(std::span(want).subspan(8, 10), true, d).code == errc::malformed);
}

}  // namespace
}  // namespace qgate::pubsub
