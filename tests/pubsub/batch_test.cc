// Publish-interval batching: held updates merge into one update with all their rows, in
// order, whatever shape they arrived in; mismatched columns are refused.

#include <doctest/doctest.h>

#include "pubsub_test_util.h"

namespace qgate::pubsub {
namespace {

using test::value;
using strings = std::vector<std::string>;

/// Column-wise concatenation of two tables with the same columns (the value model of a batch).
value concat(value a, const value& b) {
    auto& ca = a.items[0].items[1].items;
    const auto& cb = b.items[0].items[1].items;
    for (size_t i = 0; i < ca.size(); ++i) {
        ca[i].attr = 0;
        ca[i].raw.insert(ca[i].raw.end(), cb[i].raw.begin(), cb[i].raw.end());
        ca[i].syms.insert(ca[i].syms.end(), cb[i].syms.begin(), cb[i].syms.end());
        ca[i].items.insert(ca[i].items.end(), cb[i].items.begin(), cb[i].items.end());
    }
    return a;
}

/// Parses `v` as the body of a held message and adds it.
status add(batcher& b, const value& v, const schema_store* s = nullptr) {
    const update_ref msg = update_ref::copy_of(test::message(v));
    update_view u;
    const status st = parse_update(msg.bytes().subspan(8), true, u, s);
    REQUIRE_MESSAGE(st.ok(), errc_name(st.code));
    return b.add(u, msg);
}

TEST_CASE("three table updates merge into one with every row in arrival order") {
    batcher b;
    const value t1 = test::trades({"A", "B"}, 0), t2 = test::trades({"C"}, 2),
                t3 = test::trades({"A", "D", "E"}, 3);
    REQUIRE(add(b, test::upd("trade", t1)).ok());
    REQUIRE(add(b, test::upd("trade", t2)).ok());
    REQUIRE(add(b, test::upd("trade", t3)).ok());
    CHECK(b.updates() == 3);
    CHECK(b.rows() == 6);
    update_ref out;
    REQUIRE(b.flush(out).ok());
    CHECK(b.empty());
    const value got = test::decode_msg(out.bytes());
    CHECK(got == test::upd("trade", concat(concat(t1, t2), t3)));
    // The merged update is an ordinary forwardable update: filter it like any other.
    update_view u;
    REQUIRE(parse_update(out.bytes().subspan(8), true, u).ok());
    CHECK(u.forwardable);
    CHECK(u.rows == 6);
}

TEST_CASE(".u.upd column lists and rows merge into a table named by the schema") {
    schema_store s;
    REQUIRE(s.add("trade", test::body(test::trades({}))).ok());
    batcher b;
    REQUIRE(add(b, test::upd("trade", test::trade_columns({"A", "B"}, 0), ".u.upd"), &s).ok());
    const value row = value::list({test::fixed_vector(-qipc::qtype::kTimestamp, {1000}, 8),
                                   value::symbol("C"), value::float_(100.0), value::long_(100),
                                   value::long_(2)});
    REQUIRE(add(b, test::upd("trade", row, ".u.upd"), &s).ok());
    update_ref out;
    REQUIRE(b.flush(out, s.column_names(0)).ok());
    CHECK(test::decode_msg(out.bytes()) ==
          test::upd("trade", concat(test::trades({"A", "B"}, 0), test::trades({"C"}, 2))));
}

TEST_CASE("strings columns (general lists) concatenate item by item; attributes are cleared") {
    auto table = [](strings syms, std::vector<value> conds) {
        value time = test::fixed_vector(qipc::qtype::kTimestamp,
                                        std::vector<int64_t>(syms.size(), 1), 8);
        time.attr = 1;
        return value::table({"time", "sym", "cond"},
                            {time, value::symbols(std::move(syms)), value::list(std::move(conds))});
    };
    const value a = table({"x"}, {value::string("ab")});
    const value c = table({"y", "z"}, {value::string(""), value::string("cde")});
    batcher b;
    REQUIRE(add(b, test::upd("t", a)).ok());
    REQUIRE(add(b, test::upd("t", c)).ok());
    update_ref out;
    REQUIRE(b.flush(out).ok());
    CHECK(test::decode_msg(out.bytes()) == test::upd("t", concat(a, c)));
}

TEST_CASE("columns that do not line up are refused and the batch is kept") {
    batcher b;
    REQUIRE(add(b, test::upd("trade", test::trades({"A"}))).ok());
    const value narrow = value::table({"time", "sym"},
                                      {test::fixed_vector(qipc::qtype::kTimestamp, {1}, 8),
                                       value::symbols({"B"})});
    CHECK(add(b, test::upd("trade", narrow)).code == errc::schema_mismatch);
    value retyped = test::trades({"B"});
    retyped.items[0].items[1].items[2] = value::longs(std::vector<int64_t>{1});  // price: long
    CHECK(add(b, test::upd("trade", retyped)).code == errc::schema_mismatch);
    CHECK(add(b, test::upd("quote", test::trades({"B"}))).code == errc::schema_mismatch);
    CHECK(b.updates() == 1);
    update_ref out;
    REQUIRE(b.flush(out).ok());
    CHECK(test::decode_msg(out.bytes()) == test::upd("trade", concat(test::trades({"A"}),
                                                                     test::trades({}))));
}

TEST_CASE("an empty batch flushes to nothing; held messages are released by flush") {
    batcher b;
    update_ref out = update_ref::copy_of(std::vector<uint8_t>{1});
    REQUIRE(b.flush(out).ok());
    CHECK_FALSE(out);
    const update_ref msg = update_ref::copy_of(test::message(test::upd("t", test::trades({"A"}))));
    update_view u;
    REQUIRE(parse_update(msg.bytes().subspan(8), true, u).ok());
    REQUIRE(b.add(u, msg).ok());
    CHECK(msg.use_count() == 2);
    REQUIRE(b.flush(out).ok());
    CHECK(msg.use_count() == 1);
}

}  // namespace
}  // namespace qgate::pubsub
