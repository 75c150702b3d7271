// TorQ's replies: error texts, sync error frames, async `error: ` strings, postbacks
// `(postback; query; result)` for results and errors, and the reducer request `(join; results)`.

#include <doctest/doctest.h>

#include "join_test_util.h"
#include "qgate/route/classify.h"

namespace qgate::join {
namespace {

using namespace test;
using qipc::msg_type;

value decode_msg(std::span<const uint8_t> m, msg_type expect) {
    qipc::frame_header h;
    value v;
    REQUIRE(qipc::decode_message(m, h, v).ok());
    CHECK(h.type == expect);
    return v;
}

/// Parses a `.gw.*` call from its body into `g` (views into `b`).
void parse(const msg& b, msg_type t, route::gw_call& g) {
    const route::call_info c = route::classify(b, true, t);
    REQUIRE(route::parse_gw(c, g));
}

TEST_CASE("TorQ texts") {
    char buf[200];
    const std::string_view one[] = {"other"};
    CHECK(missing_types_text(one, buf) ==
          "not all of the requested server types are available; missing other");
    const std::string_view two[] = {"hdb", "other"};
    CHECK(missing_types_text(two, buf) ==
          "not all of the requested server types are available; missing hdb other");
    CHECK(join_failed_text("b", true, buf) ==
          "failed to apply supplied join function to results: b");
    CHECK(join_failed_text("b", false, buf) == "failed to apply join function to result sets: b");
    CHECK(backend_closed_text("rdb", buf) ==
          "backend rdb server handling query closed the connection");
    char tiny[10];
    CHECK(missing_types_text(one, tiny) == "not all of");  // cut, never overflowing
}

TEST_CASE("error replies: sync q error, async prefixed string, postback-wrapped") {
    uint8_t out[256];
    uint64_t n = write_error_reply("type", true, {}, out);
    REQUIRE(n > 0);
    CHECK(decode_msg({out, n}, msg_type::response) == value::error("type"));
    n = write_error_reply(kTimeoutText, false, {}, out);
    CHECK(decode_msg({out, n}, msg_type::async) ==
          value::string("error: query has exceeded specified timeout value"));
    const msg pb = body_of(value::symbol("handleresults")), q = body_of(f2());
    const std::span<const uint8_t> env[] = {pb, q};
    n = write_error_reply("type", false, env, out);
    CHECK(decode_msg({out, n}, msg_type::async) ==
          value::list({value::symbol("handleresults"), f2(), value::string("error: type")}));
    CHECK(write_error_reply("type", false, env, std::span<uint8_t>(out, 20)) == 0);
}

TEST_CASE("asyncexecjpt postback: (postback; query; result), lists spliced, none for ()") {
    const value handler = lambda("{[q;r] r}");
    const auto call = [&](value postback) {
        return body_of(value::list({value::symbol(".gw.asyncexecjpt"), f2(),
                                    value::symbols({"hdb", "rdb"}), value::symbol("raze"),
                                    std::move(postback), value::long_(0)}));
    };
    uint8_t scratch[128];
    std::span<const uint8_t> items[8];
    route::gw_call g;
    const msg b1 = call(handler);
    parse(b1, msg_type::async, g);
    REQUIRE(postback_envelope(g, scratch, items) == 2);
    const std::vector<msg> parts = {reply(longs({1})), reply(longs({2}))};
    join_options opt;
    opt.type = msg_type::async;
    opt.envelope = std::span<const std::span<const uint8_t>>(items, 2);
    join_output out;
    REQUIRE(raze(views(parts), opt, out) == join_error::ok);
    CHECK(decoded(out, msg_type::async) == value::list({handler, f2(), longs({1, 2})}));
    CHECK(out.column_bytes_copied == 0);
    // ({[a;b;q;r]...};`a;`b): the extra arguments are spliced in front of query and result.
    const msg b2 = call(value::list({handler, value::symbol("a"), value::symbol("b")}));
    parse(b2, msg_type::async, g);
    REQUIRE(postback_envelope(g, scratch, items) == 4);
    const msg b3 = call(value::list({}));
    parse(b3, msg_type::async, g);
    CHECK(postback_envelope(g, scratch, items) == 0);
    CHECK(join_kind_of(g.join) == join_kind::raze);
}

TEST_CASE("string-form calls: text postback and join are encoded") {
    const msg b = body_of(value::string(
        ".gw.asyncexecjpt[(`f;2);`hdb`rdb;{sum x};`handleresults;0D00:00:05]"));
    route::gw_call g;
    parse(b, msg_type::async, g);
    uint8_t scratch[128];
    std::span<const uint8_t> items[8];
    REQUIRE(postback_envelope(g, scratch, items) == 2);
    value v;
    REQUIRE(qipc::decode(items[0], true, v).ok());
    CHECK(v == value::symbol("handleresults"));
    REQUIRE(qipc::decode(items[1], true, v).ok());
    CHECK(v == value::string("(`f;2)"));
    CHECK(join_kind_of(g.join) == join_kind::custom);
    uint8_t jb[64];
    const uint64_t n = encode_callable_text(g.join.text, jb);
    REQUIRE(n > 0);
    REQUIRE(qipc::decode({jb, n}, true, v).ok());
    CHECK(v.type == qipc::qtype::kLambda);
    CHECK(v.items[0] == value::string("{sum x}"));
}

TEST_CASE("join kinds") {
    CHECK(join_kind_of(std::string_view("raze")) == join_kind::raze);
    CHECK(join_kind_of(std::string_view("list")) == join_kind::list);
    CHECK(join_kind_of(std::string_view("first")) == join_kind::first);
    CHECK(join_kind_of(std::string_view("myjoin")) == join_kind::custom);
    route::arg_view a;
    CHECK(join_kind_of(a) == join_kind::raze);  // absent: syncexec / asyncexec
    const msg raze_prim = {0x6b, 0x66, 0x0c};
    REQUIRE(qipc::walker(raze_prim, true).at(0, a.object));
    CHECK(join_kind_of(a) == join_kind::raze);
    const msg sym = body_of(value::symbol("first"));
    REQUIRE(qipc::walker(sym, true).at(0, a.object));
    CHECK(join_kind_of(a) == join_kind::first);
}

TEST_CASE("reducer request (join; results) references the partials") {
    const value fn = lambda("{sum x}");
    const msg join = body_of(fn);
    const std::vector<msg> parts = {reply(longs({1, 2})), reply(value::table({"a"}, {longs({3})}))};
    join_output out;
    REQUIRE(reducer_request(join, views(parts), out) == join_error::ok);
    CHECK(decoded(out, msg_type::sync) ==
          value::list({fn, value::list({longs({1, 2}), value::table({"a"}, {longs({3})})})}));
    CHECK(out.column_bytes_copied == 0);
    CHECK(out.referenced_bytes == join.size() + parts[0].size() - 8 + parts[1].size() - 8);
}

}  // namespace
}  // namespace qgate::join
