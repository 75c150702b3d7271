// .u.sub in every form clients send it (reference §6.1), and hostile variants.

#include <doctest/doctest.h>

#include <list>

#include "pubsub_test_util.h"

namespace qgate::pubsub {
namespace {

using qipc::msg_type;
using test::body;
using test::value;
using strings = std::vector<std::string>;

/// Parses `b`, which is kept alive for the rest of the test run (the request views into it).
sub_request parse_ok(std::vector<uint8_t> b, msg_type t = msg_type::sync) {
    static std::list<std::vector<uint8_t>> kept;
    kept.push_back(std::move(b));
    sub_request r;
    const status st = parse_sub(kept.back(), true, t, r);
    REQUIRE_MESSAGE(st.ok(), errc_name(st.code));
    return r;
}

errc parse_err(const std::vector<uint8_t>& b) {
    sub_request r;
    return parse_sub(b, true, msg_type::sync, r).code;
}

std::vector<uint8_t> text(std::string_view s) { return body(value::string(s)); }

TEST_CASE("list form: (`.u.sub;`trade;`AAPL`MSFT)") {
    const auto b = body(value::list({value::symbol(".u.sub"), value::symbol("trade"),
                                     value::symbols({"AAPL", "MSFT"})}));
    CHECK(is_sub_call(b, true));
    const sub_request r = parse_ok(b);
    CHECK(r.form == sub_form::list);
    CHECK_FALSE(r.all_tables);
    CHECK_FALSE(r.all_syms);
    CHECK(to_strings(r.tables) == strings{"trade"});
    CHECK(to_strings(r.syms) == strings{"AAPL", "MSFT"});
    CHECK(r.wants_reply());
}

TEST_CASE("list form with ` for all tables and all syms, async") {
    const auto b = body(value::list({value::symbol(".u.sub"), value::symbol(""),
                                     value::symbol("")}));
    const sub_request r = parse_ok(b, msg_type::async);
    CHECK(r.all_tables);
    CHECK(r.all_syms);
    CHECK_FALSE(r.wants_reply());
}

TEST_CASE("Java form: (\".u.sub\";`trade;`AAPL), one sym as an atom") {
    const auto b = body(value::list({value::string(".u.sub"), value::symbol("trade"),
                                     value::symbol("AAPL")}));
    const sub_request r = parse_ok(b);
    CHECK(to_strings(r.syms) == strings{"AAPL"});
    CHECK_FALSE(r.all_syms);
}

TEST_CASE("node-q style: table and syms as strings, syms as a list of symbol atoms") {
    auto b = body(value::list({value::string(".u.sub"), value::string("trade"),
                               value::string("")}));
    sub_request r = parse_ok(b);
    CHECK(to_strings(r.tables) == strings{"trade"});
    CHECK(r.all_syms);  // "" is the empty symbol
    b = body(value::list({value::symbol(".u.sub"), value::symbol("trade"),
                          value::list({value::symbol("A"), value::symbol("B")})}));
    r = parse_ok(b);
    CHECK(to_strings(r.syms) == strings{"A", "B"});
    CHECK(r.syms.count() == 2);
}

TEST_CASE("empty sym list selects nothing (q: sym in ())") {
    const auto b = body(value::list({value::symbol(".u.sub"), value::symbol("trade"),
                                     value::symbols({})}));
    const sub_request r = parse_ok(b);
    CHECK_FALSE(r.all_syms);
    CHECK(to_strings(r.syms).empty());
}

TEST_CASE("string forms") {
    sub_request r = parse_ok(text(".u.sub[`trade;`]"));
    CHECK(r.form == sub_form::string);
    CHECK(to_strings(r.tables) == strings{"trade"});
    CHECK(r.all_syms);
    r = parse_ok(text(".u.sub[`;`]"));
    CHECK(r.all_tables);
    CHECK(r.all_syms);
    r = parse_ok(text("  .u.sub[ `trade ; `AAPL`MSFT ] "));
    CHECK(to_strings(r.syms) == strings{"AAPL", "MSFT"});
    r = parse_ok(text(".u.sub[`trade;enlist`AAPL]"));
    CHECK(to_strings(r.syms) == strings{"AAPL"});
    r = parse_ok(text(".u.sub[`trade;(`AAPL;`IBM`MSFT)]"));
    CHECK(to_strings(r.syms) == strings{"AAPL", "IBM", "MSFT"});
    r = parse_ok(text(".u.sub[`trade;`symbol$()]"));
    CHECK(to_strings(r.syms).empty());
    CHECK_FALSE(r.all_syms);
    r = parse_ok(text(".u.sub [`quote;`a.b`c_d`:x/y]"));
    CHECK(to_strings(r.syms) == strings{"a.b", "c_d", ":x/y"});
}

TEST_CASE("javakdb's sync string bytes from the reference") {
    const std::vector<uint8_t> b = {0x0a, 0x00, 0x13, 0, 0, 0, '.', 'u', '.', 's', 'u', 'b',
                                    '[', '`', 't', 'r', 'a', 'd', 'e', ';', '`', 'a', '`',
                                    'b', ']'};
    const sub_request r = parse_ok(b);
    CHECK(to_strings(r.tables) == strings{"trade"});
    CHECK(to_strings(r.syms) == strings{"a", "b"});
}

TEST_CASE("r.q's (.u.sub[`;`];`.u `i`L)") {
    const sub_request r = parse_ok(text("(.u.sub[`;`];`.u `i`L)"));
    CHECK(r.form == sub_form::rdb_string);
    CHECK(r.with_log_info);
    CHECK(r.all_tables);
    CHECK(r.all_syms);
    CHECK(is_sub_call(text("(.u.sub[`;`];`.u `i`L)"), true));
}

TEST_CASE("not a subscription") {
    CHECK_FALSE(is_sub_call(body(value::list({value::symbol("getTrades"), value::long_(1)})),
                            true));
    CHECK_FALSE(is_sub_call(text("select from trade"), true));
    CHECK(parse_err(text("getTrades[`a]")) == errc::wrong_function);
    CHECK(parse_err(body(value::list({value::symbol("f"), value::long_(1)}))) ==
          errc::wrong_function);
    CHECK(parse_err(body(value::long_(1))) == errc::not_a_call);
    CHECK(parse_err(body(value::list({}))) == errc::not_a_call);
}

TEST_CASE("hostile and wrong .u.sub calls get specific errors") {
    CHECK(parse_err(body(value::list({value::symbol(".u.sub"), value::symbol("t")}))) ==
          errc::rank);
    CHECK(parse_err(text(".u.sub[`t]")) == errc::rank);
    CHECK(parse_err(text(".u.sub[`t;`a;`b]")) == errc::rank);
    CHECK(parse_err(text(".u.sub[`t;`a")) == errc::bad_text);
    CHECK(parse_err(text(".u.sub")) == errc::bad_text);
    CHECK(parse_err(text(".u.sub[t;`a]")) == errc::bad_table_arg);
    CHECK(parse_err(text(".u.sub[`t;select from x]")) == errc::bad_sym_arg);
    CHECK(parse_err(text(".u.sub[`t;`a b]")) == errc::bad_sym_arg);
    CHECK(parse_err(body(value::list({value::symbol(".u.sub"), value::long_(1),
                                      value::symbol("")}))) == errc::bad_table_arg);
    CHECK(parse_err(body(value::list({value::symbol(".u.sub"), value::symbol("t"),
                                      value::longs(std::vector<int64_t>{1})}))) ==
          errc::bad_sym_arg);
    CHECK(parse_err(body(value::list({value::symbol(".u.sub"), value::symbol("t"),
                                      value::list({value::symbol("a"), value::long_(1)})}))) ==
          errc::bad_sym_arg);
}

TEST_CASE("truncated and corrupted bodies are malformed with the walker's detail") {
    const auto good = body(value::list({value::symbol(".u.sub"), value::symbol("trade"),
                                        value::symbols({"AAPL", "MSFT"})}));
    for (size_t n = 0; n < good.size(); ++n) {
        sub_request r;
        const std::span<const uint8_t> cut(good.data(), n);
        const status st = parse_sub(cut, true, msg_type::sync, r);
        CHECK(st.code == errc::malformed);
        CHECK(st.detail != qipc::errc::ok);
        if (n < 6) CHECK_FALSE(is_sub_call(cut, true));
    }
    // Dispatch reads only the head and the name: a broken tail is found by parse_sub.
    const std::span<const uint8_t> tail_cut(good.data(), good.size() - 3);
    CHECK(is_sub_call(tail_cut, true));
    CHECK(is_update_call(body(test::upd("t", value::long_(1))), true));
    auto lying = good;
    lying[2] = 0xff;  // list count 255
    sub_request r;
    const status st = parse_sub(lying, true, msg_type::sync, r);
    CHECK(st.code == errc::malformed);
    CHECK(st.detail == qipc::errc::count_too_large);
    auto trailing = good;
    trailing.push_back(0);
    CHECK(parse_sub(trailing, true, msg_type::sync, r).detail == qipc::errc::trailing_bytes);
}

TEST_CASE("name text grammar") {
    uint32_t n = 0;
    CHECK(valid_name_text("`", n));
    CHECK(n == 1);
    CHECK(valid_name_text("`a`b`", n));
    CHECK(n == 3);
    CHECK(valid_name_text("()", n));
    CHECK(n == 0);
    CHECK_FALSE(valid_name_text("", n));
    CHECK_FALSE(valid_name_text("a", n));
    CHECK_FALSE(valid_name_text("(`a;1)", n));
    CHECK_FALSE(valid_name_text("(`a", n));
    CHECK_FALSE(valid_name_text("`a\"b", n));
}

}  // namespace
}  // namespace qgate::pubsub

namespace qgate::pubsub {
namespace {

TEST_CASE("mutated .u.sub calls: whatever parses yields names and a reply that decodes") {
    schema_store s;
    REQUIRE(s.add("trade", test::body(test::trades({}))).ok());
    const std::vector<std::vector<uint8_t>> seeds = {
        test::body(value::list({value::symbol(".u.sub"), value::symbol("trade"),
                                value::symbols({"AAPL", "MSFT"})})),
        test::body(value::list({value::string(".u.sub"), value::symbol(""),
                                value::list({value::symbol("A")})})),
        test::body(value::string("(.u.sub[`trade;(`a;`b`c)];`.u `i`L)")),
    };
    const uint8_t values[] = {0x00, 0x01, 0x0a, 0x0b, 0x20, 0x28, 0x3b, 0x5d, 0x60, 0xf5, 0xff};
    uint64_t accepted = 0;
    for (const auto& good : seeds) {
        for (size_t i = 0; i < good.size(); ++i) {
            for (uint8_t v : values) {
                std::vector<uint8_t> b = good;
                b[i] = v;
                sub_request r;
                if (!parse_sub(b, true, qipc::msg_type::sync, r).ok()) continue;
                ++accepted;
                CHECK(to_strings(r.syms).size() == (r.all_syms ? 1u : r.syms.count()));
                std::vector<uint8_t> reply;
                std::string_view missing;
                const status st = build_sub_reply(s, r, reply, missing);
                if (st.code == errc::unknown_table) continue;
                REQUIRE(st.ok());
                test::decode_msg(reply);
            }
        }
    }
    CHECK(accepted > 20);
}

}  // namespace
}  // namespace qgate::pubsub
