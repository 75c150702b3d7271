// Reply plans for `.gw.*` calls and fan-out routes, and the failure replies they lead to: each
// TorQ error path as the client receives it (sync q error, async `error: ` string, postback).

#include <doctest/doctest.h>

#include "join_test_util.h"
#include "qgate/route/classify.h"

namespace qgate::join {
namespace {

using namespace test;
using qipc::msg_type;

value timespan_ms(int64_t ms) {
    std::vector<uint8_t> raw(8);
    const uint64_t ns = static_cast<uint64_t>(ms) * 1'000'000;
    for (int i = 0; i < 8; ++i) raw[i] = static_cast<uint8_t>(ns >> 8 * i);
    return value::fixed(-qipc::qtype::kTimespan, raw);
}

value decode_reply(const uint8_t* p, uint64_t n, msg_type expect) {
    REQUIRE(n > 0);
    qipc::frame_header h;
    value v;
    REQUIRE(qipc::decode_message({p, n}, h, v).ok());
    CHECK(h.type == expect);
    return v;
}

bool plan_of(const value& call, msg_type t, msg& keep, std::span<uint8_t> scratch,
             reply_plan& plan) {
    keep = body_of(call);
    route::gw_call g;
    const route::call_info c = route::classify(keep, true, t);
    REQUIRE(route::parse_gw(c, g));
    return plan_gw(g, scratch, plan);
}

TEST_CASE("syncexec: sync reply, raze, TorQ's sync texts") {
    msg keep;
    uint8_t scratch[64];
    reply_plan p;
    REQUIRE(plan_of(value::list({value::symbol(".gw.syncexec"), f2(),
                                 value::symbols({"hdb", "rdb"})}),
                    msg_type::sync, keep, scratch, p));
    CHECK(p.torq);
    CHECK(p.sync);
    CHECK(p.kind == join_kind::raze);
    CHECK(p.envelope_count == 0);
    CHECK(p.options().type == msg_type::response);
    gather g;
    REQUIRE(g.start(2));
    g.deliver(1, reply(value::error("type")));
    char text[200];
    uint8_t out[256];
    const std::string_view t = failure_text(g, p, "rdb", text);
    CHECK(t == "queries failed on server(s) rdb.  Error(s) were type");
    CHECK(decode_reply(out, write_plan_error(t, p, out), msg_type::response) ==
          value::error(std::string(t)));
    CHECK(join_failure_text(join_error::mismatch, p, text) ==
          "failed to apply supplied join function to results: mismatch");
    REQUIRE(g.start(2));
    g.lost(0, "connection reset");
    CHECK(failure_text(g, p, "hdb", text) ==
          "backend hdb server handling query closed the connection");
}

TEST_CASE("asyncexecjpt with postback and timeout: async replies wrapped in the postback") {
    msg keep;
    uint8_t scratch[64];
    reply_plan p;
    REQUIRE(plan_of(value::list({value::symbol(".gw.asyncexecjpt"), f2(),
                                 value::symbols({"hdb", "rdb"}), value::symbol("raze"),
                                 value::symbol("handleresults"), timespan_ms(5000)}),
                    msg_type::async, keep, scratch, p));
    CHECK(!p.sync);
    CHECK(p.timeout_ms == 5000);
    CHECK(p.envelope_count == 2);
    gather g;
    REQUIRE(g.start(2, 5000));
    g.deliver(0, reply(longs({1})));
    CHECK(g.tick(5000) == gather_status::timed_out);
    char text[200];
    uint8_t out[256];
    const std::string_view t = failure_text(g, p, "hdb", text);
    CHECK(decode_reply(out, write_plan_error(t, p, out), msg_type::async) ==
          value::list({value::symbol("handleresults"), f2(),
                       value::string("error: query has exceeded specified timeout value")}));
    // Success: the raze is the postback's last argument; the reducer's answer would be
    // wrapped the same way with `first` over its one reply.
    const std::vector<msg> parts = {reply(longs({1})), reply(longs({2}))};
    join_output j;
    REQUIRE(run_join(p.kind, views(parts), p.options(), j) == join_error::ok);
    CHECK(decoded(j, msg_type::async) ==
          value::list({value::symbol("handleresults"), f2(), longs({1, 2})}));
    const std::vector<msg> reduced = {reply(value::long_(3))};
    REQUIRE(first(views(reduced), p.options(), j) == join_error::ok);
    CHECK(decoded(j, msg_type::async) ==
          value::list({value::symbol("handleresults"), f2(), value::long_(3)}));
    CHECK(join_failure_text(join_error::type, p, text) ==
          "failed to apply join function to result sets: type");
}

TEST_CASE("asyncexec: async error strings without a postback") {
    msg keep;
    uint8_t scratch[64];
    reply_plan p;
    REQUIRE(plan_of(value::list({value::symbol(".gw.asyncexec"), f2(), value::symbol("rdb")}),
                    msg_type::async, keep, scratch, p));
    CHECK(!p.sync);
    CHECK(p.envelope_count == 0);
    gather g;
    REQUIRE(g.start(1));
    g.deliver(0, reply(value::error("rank")));
    char text[100];
    uint8_t out[128];
    const std::string_view t = failure_text(g, p, "rdb", text);
    CHECK(t == "rank");
    CHECK(decode_reply(out, write_plan_error(t, p, out), msg_type::async) ==
          value::string("error: rank"));
    const std::string_view missing[] = {"other"};
    const std::string_view m = missing_types_text(missing, text);
    CHECK(decode_reply(out, write_plan_error(m, p, out), msg_type::async) ==
          value::string("error: not all of the requested server types are available; "
                        "missing other"));
}

value int_atom(int8_t type, int32_t v) {
    std::vector<uint8_t> raw(4);
    for (int i = 0; i < 4; ++i) raw[i] = static_cast<uint8_t>(static_cast<uint32_t>(v) >> 8 * i);
    return value::fixed(type, raw);
}

value jpt(value postback, value timeout) {
    return value::list({value::symbol(".gw.asyncexecjpt"), f2(), value::symbol("rdb"),
                        value::symbol("raze"), std::move(postback), std::move(timeout)});
}

// Issue 16: a timeout qgate could not read was answered "error: qgate: bad postback or
// timeout", outside the postback the client reads its answers through.
TEST_CASE("a bad timeout is named, and answered in the postback; a bad postback is named") {
    msg keep;
    uint8_t scratch[64];
    reply_plan p;
    route::gw_call g;
    std::string_view why;
    const auto plan = [&](const value& call) {
        keep = body_of(call);
        REQUIRE(route::parse_gw(route::classify(keep, true, msg_type::async), g));
        why = {};
        return plan_gw(g, scratch, p, &why);
    };
    CHECK(!plan(jpt(value::symbol("pb"), value::long_(5))));  // 5: TorQ would read 5 ns
    CHECK(why == kBadTimeoutText);
    CHECK(p.envelope_count == 2);
    uint8_t out[256];
    CHECK(decode_reply(out, write_plan_error(why, p, out), msg_type::async) ==
          value::list({value::symbol("pb"), f2(),
                       value::string("error: " + std::string(kBadTimeoutText))}));
    CHECK(!plan(jpt(value::list({}), value::symbol("x"))));  // no postback: a bare string
    CHECK(why == kBadTimeoutText);
    CHECK(p.envelope_count == 0);
    CHECK(decode_reply(out, write_plan_error(why, p, out), msg_type::async) ==
          value::string("error: " + std::string(kBadTimeoutText)));
    // Minute, second and time atoms are timeouts, as in TorQ (timestamp + any of them).
    REQUIRE(plan(jpt(value::symbol("pb"), int_atom(-qipc::qtype::kSecond, 5))));
    CHECK(p.timeout_ms == 5000);
    REQUIRE(plan(jpt(value::symbol("pb"), int_atom(-qipc::qtype::kMinute, 2))));
    CHECK(p.timeout_ms == 120'000);
    REQUIRE(plan(jpt(value::symbol("pb"), int_atom(-qipc::qtype::kTime, 1500))));
    CHECK(p.timeout_ms == 1500);
    REQUIRE(plan(jpt(value::symbol("pb"), int_atom(-qipc::qtype::kTime, INT32_MIN))));
    CHECK(p.timeout_ms == -1);  // 0Nt: none
    // A postback that does not fit: named, and no envelope to put it in.
    uint8_t tiny[4];
    keep = body_of(value::string(".gw.asyncexecjpt[(`f;2);`rdb;raze;{[q;r] show r};0Wn]"));
    REQUIRE(route::parse_gw(route::classify(keep, true, msg_type::async), g));
    CHECK(!plan_gw(g, tiny, p, &why));
    CHECK(why == kBadPostbackText);
    CHECK(p.envelope_count == 0);
}

TEST_CASE("plain fan-out routes: q's first error as is, no reply to async") {
    const reply_plan p = plan_route("raze", msg_type::sync);
    CHECK(!p.torq);
    CHECK(p.reply);
    CHECK(plan_route("", msg_type::sync).kind == join_kind::raze);
    CHECK(plan_route("first", msg_type::sync).kind == join_kind::first);
    CHECK(plan_route("myjoin", msg_type::sync).kind == join_kind::custom);
    CHECK(!plan_route("raze", msg_type::async).reply);
    gather g;
    REQUIRE(g.start(2));
    g.deliver(0, reply(value::error("type")));
    char text[100];
    CHECK(failure_text(g, p, "rdb", text) == "type");
    CHECK(join_failure_text(join_error::mismatch, p, text) == "mismatch");
}

}  // namespace
}  // namespace qgate::join
