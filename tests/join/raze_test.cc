// raze / list / first over partial replies: each joined reply is flattened, decoded with the
// value model and compared with the expected value built with the writer's factories.

#include <doctest/doctest.h>

#include "join_test_util.h"

namespace qgate::join {
namespace {

using namespace test;
namespace qt = qipc::qtype;

value trades(std::vector<std::string> syms, std::vector<double> px, std::vector<int64_t> n) {
    return value::table({"sym", "px", "size"},
                        {value::symbols(std::move(syms)), value::floats(px), value::longs(n)});
}

TEST_CASE("raze of two tables: one table, columns referenced, no column byte copied") {
    const std::vector<msg> m = {reply(trades({"AAPL", "MSFT"}, {1.5, 2.5}, {10, 20})),
                                reply(trades({"IBM"}, {3.5}, {30}))};
    join_output out;
    REQUIRE(raze(views(m), {}, out) == join_error::ok);
    CHECK(out.shape == raze_shape::table);
    CHECK(decoded(out) ==
          trades({"AAPL", "MSFT", "IBM"}, {1.5, 2.5, 3.5}, {10, 20, 30}));
    CHECK(out.column_bytes_copied == 0);
    // Header+heads, names, list head + 3 x (col head, part 0, part 1) with meta runs merged.
    CHECK(out.iov.size() == 1 + 1 + 3 * 3);
    CHECK(out.meta.size() == 8 + 3 + 6 + 3 * 6);
    CHECK(out.total_bytes == out.meta.size() + out.referenced_bytes);
    // The element bytes are the partials' own: iov[3], column 0 of part 0, points into it.
    CHECK(static_cast<const uint8_t*>(out.iov[3].iov_base) >= m[0].data());
    CHECK(static_cast<const uint8_t*>(out.iov[3].iov_base) < m[0].data() + m[0].size());
}

TEST_CASE("raze of three tables with a string column and an empty () column") {
    const auto t = [](std::vector<std::string> s, value names) {
        return value::table({"sym", "note"}, {value::symbols(std::move(s)), std::move(names)});
    };
    const std::vector<msg> m = {
        reply(t({"a"}, value::list({value::string("x1")}))),
        reply(t({}, value::list({}))),  // an empty partial: `()` column joins with anything
        reply(t({"b", "c"}, value::list({value::string("y"), value::string("zz")})))};
    join_output out;
    REQUIRE(raze(views(m), {}, out) == join_error::ok);
    CHECK(decoded(out) == t({"a", "b", "c"}, value::list({value::string("x1"),
                                                          value::string("y"),
                                                          value::string("zz")})));
    CHECK(out.column_bytes_copied == 0);
}

TEST_CASE("raze clears the table's and the columns' attributes") {
    value a = trades({"a"}, {1}, {1});
    a.attr = 1;                      // `s# table
    a.items[0].items[1].items[0].attr = 3;  // `p#sym
    const std::vector<msg> m = {reply(a), reply(trades({"b"}, {2}, {2}))};
    join_output out;
    REQUIRE(raze(views(m), {}, out) == join_error::ok);
    const value v = decoded(out);
    CHECK(v.attr == 0);
    CHECK(v.items[0].items[1].items[0].attr == 0);
    CHECK(v == trades({"a", "b"}, {1, 2}, {1, 2}));
}

TEST_CASE("raze of tables: names differ -> mismatch, types differ -> type") {
    join_output out;
    const std::vector<msg> names = {reply(trades({"a"}, {1}, {1})),
                                    reply(value::table({"sym", "px", "qty"},
                                                       {value::symbols({"b"}),
                                                        value::floats(std::vector<double>{2}),
                                                        longs({2})}))};
    CHECK(raze(views(names), {}, out) == join_error::mismatch);
    CHECK(out.error_part == 1);
    const std::vector<msg> types = {reply(trades({"a"}, {1}, {1})),
                                    reply(value::table({"sym", "px", "size"},
                                                       {value::symbols({"b"}),
                                                        value::floats(std::vector<double>{2}),
                                                        ints({2})}))};
    CHECK(raze(views(types), {}, out) == join_error::type);
    CHECK(out.error_part == 1);
    CHECK(out.error_column == 2);
    CHECK(std::string(join_error_text(join_error::mismatch)) == "mismatch");
}

TEST_CASE("raze of vectors and atoms of one type is one vector") {
    const std::vector<msg> m = {reply(longs({1, 2})), reply(value::long_(3)), reply(longs({}))};
    join_output out;
    REQUIRE(raze(views(m), {}, out) == join_error::ok);
    CHECK(out.shape == raze_shape::vector);
    CHECK(decoded(out) == longs({1, 2, 3}));
    const std::vector<msg> s = {reply(value::symbols({"a", "b"})), reply(value::symbol("c"))};
    REQUIRE(raze(views(s), {}, out) == join_error::ok);
    CHECK(decoded(out) == value::symbols({"a", "b", "c"}));
    const std::vector<msg> sorted = {reply(with_attr(longs({1, 2}), 1)), reply(longs({0}))};
    REQUIRE(raze(views(sorted), {}, out) == join_error::ok);
    CHECK(decoded(out) == longs({1, 2, 0}));  // `s# dropped: the result is not sorted
}

TEST_CASE("raze of general lists concatenates; dicts among the parts give the list of parts") {
    const std::vector<msg> l = {reply(value::list({value::long_(1), value::symbol("a")})),
                                reply(value::list({value::string("s")}))};
    join_output out;
    REQUIRE(raze(views(l), {}, out) == join_error::ok);
    CHECK(out.shape == raze_shape::list_concat);
    CHECK(decoded(out) ==
          value::list({value::long_(1), value::symbol("a"), value::string("s")}));
    const std::vector<msg> mixed = {reply(longs({1, 2})), reply(value::symbols({"a"})),
                                    reply(value::dict(value::symbols({"k"}), longs({1})))};
    REQUIRE(raze(views(mixed), {}, out) == join_error::ok);
    CHECK(out.shape == raze_shape::general);
    CHECK(decoded(out) == value::list({longs({1, 2}), value::symbols({"a"}),
                                       value::dict(value::symbols({"k"}), longs({1}))}));
    // Keyed tables (a dict of two tables) would be upserted by q's raze: not concatenated.
    const value keyed = value::dict(value::table({"k"}, {longs({1})}),
                                    value::table({"v"}, {longs({2})}));
    const std::vector<msg> k = {reply(keyed), reply(keyed)};
    REQUIRE(raze(views(k), {}, out) == join_error::ok);
    CHECK(out.shape == raze_shape::general);
    CHECK(decoded(out) == value::list({keyed, keyed}));
    const std::vector<msg> tv = {reply(trades({"a"}, {1}, {1})), reply(longs({1}))};
    REQUIRE(raze(views(tv), {}, out) == join_error::ok);
    CHECK(out.shape == raze_shape::general);
    CHECK(out.column_bytes_copied == 0);
}

TEST_CASE("raze of atoms, vectors and lists of different types flattens like q") {
    const std::vector<msg> m = {reply(longs({1, 2})), reply(value::symbols({"a", "bb"})),
                                reply(value::list({value::long_(3), value::string("s")})),
                                reply(value::char_('c')), reply(value::string("ab")),
                                reply(longs({}))};
    join_output out;
    REQUIRE(raze(views(m), {}, out) == join_error::ok);
    CHECK(out.shape == raze_shape::mixed);
    CHECK(decoded(out) == value::list({value::long_(1), value::long_(2), value::symbol("a"),
                                       value::symbol("bb"), value::long_(3), value::string("s"),
                                       value::char_('c'), value::char_('a'),
                                       value::char_('b')}));
    CHECK(out.column_bytes_copied == 16 + 5 + 2);  // the re-encoded vector elements
    join_options opt;
    opt.length_max = 40;
    CHECK(raze(views(m), opt, out) == join_error::limit);
}

TEST_CASE("list and first") {
    const std::vector<msg> m = {reply(longs({1})), reply(trades({"a"}, {1}, {1}))};
    join_output out;
    REQUIRE(run_join(join_kind::list, views(m), {}, out) == join_error::ok);
    CHECK(decoded(out) == value::list({longs({1}), trades({"a"}, {1}, {1})}));
    REQUIRE(run_join(join_kind::first, views(m), {}, out) == join_error::ok);
    CHECK(decoded(out) == longs({1}));
    CHECK(out.iov.size() == 2);  // header, then part 0's body as is
    join_options async;
    async.type = qipc::msg_type::async;
    REQUIRE(first(views(m), async, out) == join_error::ok);
    CHECK(decoded(out, qipc::msg_type::async) == longs({1}));
    CHECK(run_join(join_kind::custom, views(m), {}, out) != join_error::ok);
}

TEST_CASE("a single part razes to itself") {
    const std::vector<msg> m = {reply(trades({"a"}, {1}, {1}))};
    join_output out;
    REQUIRE(raze(views(m), {}, out) == join_error::ok);
    CHECK(decoded(out) == trades({"a"}, {1}, {1}));
}

TEST_CASE("hostile partials give specific errors") {
    join_output out;
    msg t = reply(trades({"a", "b"}, {1, 2}, {1, 2}));
    std::vector<part_view> p = {{std::span<const uint8_t>(t).subspan(8), true}};
    p[0].body = p[0].body.first(p[0].body.size() - 3);  // truncated column
    CHECK(raze(p, {}, out) == join_error::bad_partial);
    p[0].body = std::span<const uint8_t>(t).subspan(8).first(2);  // 62 00 and nothing more
    CHECK(raze(p, {}, out) == join_error::bad_partial);
    msg extra = t;
    extra.push_back(0);  // a byte after the last column
    p[0].body = std::span<const uint8_t>(extra).subspan(8);
    CHECK(raze(p, {}, out) == join_error::bad_partial);
    msg lie = t;
    lie[8 + 3 + 2] = 5;  // names count 5, but the names vector then swallows the columns
    p[0].body = std::span<const uint8_t>(lie).subspan(8);
    CHECK(raze(p, {}, out) == join_error::bad_partial);
    const msg be = {7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5};  // big-endian ,5 (SPARC q)
    p[0] = {be, false};
    CHECK(raze(p, {}, out) == join_error::big_endian);
    CHECK(list(p, {}, out) == join_error::big_endian);
    CHECK(first(p, {}, out) == join_error::ok);  // passes through with its own byte order
    CHECK(out.meta[0] == 0);
    CHECK(out.total_bytes == 8 + be.size());
    CHECK(raze({}, {}, out) == join_error::no_parts);
    // A table whose values are a path symbol (a splayed-table reference) is not razed.
    value ref;
    ref.type = qt::kTable;
    ref.items = {value::dict(value::symbols({"a"}), value::symbol(":db/t/"))};
    const std::vector<msg> sp = {reply(ref), reply(ref)};
    CHECK(raze(views(sp), {}, out) == join_error::type);
}

TEST_CASE("a part nested to the walker's limit is not nested deeper by a join") {
    // 64 enlists around a vector: valid alone (depth 64), too deep as an item of a list.
    msg deep;
    for (int i = 0; i < 64; ++i) deep.insert(deep.end(), {0, 0, 1, 0, 0, 0});
    deep.insert(deep.end(), {7, 0, 0, 0, 0, 0});
    const std::vector<part_view> p = {{deep, true}};
    join_output out;
    CHECK(first(p, {}, out) == join_error::ok);
    CHECK(list(p, {}, out) == join_error::bad_partial);
    CHECK(raze(p, {}, out) == join_error::ok);  // concatenating its items keeps the depth
    const uint8_t env_item[] = {0xf5, 'p', 0};
    const std::span<const uint8_t> env[] = {env_item};
    join_options opt;
    opt.envelope = env;
    CHECK(first(p, opt, out) == join_error::bad_partial);  // (postback; query; result)
}

TEST_CASE("the length limit gives 'limit") {
    const std::vector<msg> m = {reply(longs({1, 2, 3})), reply(longs({4}))};
    join_options opt;
    opt.length_max = 30;
    join_output out;
    CHECK(raze(views(m), opt, out) == join_error::limit);
    opt.length_max = 8 + 6 + 32;
    CHECK(raze(views(m), opt, out) == join_error::ok);
}

}  // namespace
}  // namespace qgate::join
