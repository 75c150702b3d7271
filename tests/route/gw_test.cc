// The TorQ gateway API, as q sends it (general lists, seed 003's examples) and as a Java
// client sends it (a string such as ".gw.asyncexec[(`f;2);`hdb`rdb]").

#include <doctest/doctest.h>

#include "route_test_util.h"

namespace qgate::route {
namespace {

using qipc::msg_type;
using test::body;
using test::value;

value f2() { return value::list({value::symbol("f"), value::long_(2)}); }

std::vector<std::string_view> names_of(const arg_view& a) {
    std::vector<std::string_view> out;
    name_list n(a);
    for (std::string_view s; n.next(s);) out.push_back(s);
    return out;
}

TEST_CASE(".gw.syncexec[(`f;2);`hdb`rdb] as a list") {
    const auto b = body(value::list({value::symbol(".gw.syncexec"), f2(),
                                     value::symbols({"hdb", "rdb"})}));
    const call_info c = classify(b, true, msg_type::sync);
    CHECK(c.gw == gw_kind::syncexec);
    gw_call g;
    REQUIRE(parse_gw(c, g));
    CHECK(g.kind == gw_kind::syncexec);
    CHECK(g.expects_sync());
    CHECK(std::vector<uint8_t>(g.query.object.bytes.begin(), g.query.object.bytes.end()) ==
          body(f2()));  // exact bytes, forwardable as is
    CHECK(names_of(g.servertypes) == std::vector<std::string_view>{"hdb", "rdb"});
    CHECK(g.join.object.bytes.empty());
    // The query itself classifies as a call of f.
    const qipc::walker w(b, true);
    const call_info inner = classify_object(w, g.query.object, msg_type::sync);
    CHECK(inner.name == "f");
}

TEST_CASE(".gw.syncexecj with a lambda join, single server type atom") {
    const auto lam = qipc::value{qipc::qtype::kLambda, 0, {}, {""}, {value::string("{raze x}")}};
    const auto b = body(value::list({value::string(".gw.syncexecj"), f2(), value::symbol("hdb"),
                                     lam}));
    const call_info c = classify(b, true, msg_type::sync);
    gw_call g;
    REQUIRE(parse_gw(c, g));
    CHECK(g.kind == gw_kind::syncexecj);
    CHECK(names_of(g.servertypes) == std::vector<std::string_view>{"hdb"});
    CHECK(g.join.object.type == qipc::qtype::kLambda);
}

TEST_CASE(".gw.asyncexecjpt with postback and timeout") {
    const auto b = body(value::list({value::symbol(".gw.asyncexecjpt"), f2(),
                                     value::symbols({"hdb", "rdb"}), value::symbol("raze"),
                                     value::symbol("handleresults"),
                                     test::timespan(5'000'000'000)}));
    const call_info c = classify(b, true, msg_type::async);
    gw_call g;
    REQUIRE(parse_gw(c, g));
    CHECK(g.kind == gw_kind::asyncexecjpt);
    CHECK_FALSE(g.expects_sync());
    CHECK(hash_key(g.postback) == "handleresults");
    int64_t ms = 0;
    REQUIRE(gw_timeout_ms(g.timeout, ms));
    CHECK(ms == 5000);
}

TEST_CASE(".gw.asyncexecjpt with () postback and 0Wn / 0Nn timeouts") {
    for (int64_t ns : {INT64_MAX, INT64_MIN}) {
        const auto b = body(value::list({value::symbol(".gw.asyncexecjpt"), f2(),
                                         value::symbols({"hdb"}), value::symbol("raze"),
                                         value::list({}), test::timespan(ns)}));
        gw_call g;
        REQUIRE(parse_gw(classify(b, true, msg_type::async), g));
        CHECK(g.postback.object.type == qipc::qtype::kList);
        CHECK(g.postback.object.count == 0);
        int64_t ms = 0;
        REQUIRE(gw_timeout_ms(g.timeout, ms));
        CHECK(ms == -1);
    }
}

TEST_CASE(".gw calls as strings (Java / C# clients)") {
    const auto b = body(value::string(".gw.asyncexec[(`f;2);`hdb`rdb]"));
    const call_info c = classify(b, true, msg_type::async);
    CHECK(c.form == call_form::string);
    CHECK(c.name == ".gw.asyncexec");
    CHECK(c.gw == gw_kind::asyncexec);
    gw_call g;
    REQUIRE(parse_gw(c, g));
    CHECK(g.query.is_text);
    CHECK(g.query.text == "(`f;2)");
    CHECK(names_of(g.servertypes) == std::vector<std::string_view>{"hdb", "rdb"});

    const auto b2 = body(value::string(
        ".gw.asyncexecjpt[\"select from t\";`hdb;raze;`cb;0D00:00:05.250]"));
    REQUIRE(parse_gw(classify(b2, true, msg_type::async), g));
    CHECK(g.query.text == "\"select from t\"");
    CHECK(names_of(g.servertypes) == std::vector<std::string_view>{"hdb"});
    CHECK(g.join.text == "raze");
    CHECK(g.postback.text == "`cb");
    int64_t ms = 0;
    REQUIRE(gw_timeout_ms(g.timeout, ms));
    CHECK(ms == 5250);

    const auto b3 = body(value::string(".gw.syncexecj[(`f;2);(`hdb;`rdb);{raze x}]"));
    REQUIRE(parse_gw(classify(b3, true, msg_type::sync), g));
    CHECK(names_of(g.servertypes) == std::vector<std::string_view>{"hdb", "rdb"});
    CHECK(g.join.text == "{raze x}");
}

TEST_CASE("timeout literals") {
    struct row {
        const char* text;
        bool ok;
        int64_t ms;
    };
    const row rows[] = {{"0Wn", true, -1},           {"0Nn", true, -1},
                        {"()", true, -1},            {"0D00:00:05", true, 5000},
                        {"00:01:00.5", true, 60500}, {"1D00:00:00.000000001", true, 86400000},
                        {"00:00:02n", true, 2000},   {"5", false, -1},
                        {"x", false, -1},            {"00:00:0x", false, 0},
                        // Issue 16 (UBSan): days past int64 in ms saturate, then clamp to the
                        // 32-bit fan-out timer; so does anything past ~49.7 days.
                        {"999999999999D00:00", true, 0xffffffff},
                        {"999999999999D999999999999:999999999999", true, 0xffffffff},
                        {"100D00:00", true, 0xffffffff},
                        {"49D00:00", true, 49 * 86'400'000LL}};
    for (const row& r : rows) {
        CAPTURE(r.text);
        arg_view a;
        a.is_text = true;
        a.text = r.text;
        int64_t ms = 0;
        CHECK(gw_timeout_ms(a, ms) == r.ok);
        if (r.ok) CHECK(ms == r.ms);
    }
}

TEST_CASE("a timespan timeout past the 32-bit fan-out timer is clamped, not wrapped") {
    const int64_t days100 = 100LL * 86'400 * 1'000'000'000;
    const auto b = body(value::list({value::symbol(".gw.asyncexecjpt"), f2(),
                                     value::symbols({"hdb"}), value::symbol("raze"),
                                     value::list({}), test::timespan(days100)}));
    gw_call g;
    REQUIRE(parse_gw(classify(b, true, msg_type::async), g));
    int64_t ms = 0;
    REQUIRE(gw_timeout_ms(g.timeout, ms));
    CHECK(ms == 0xffffffff);
}

TEST_CASE("malformed .gw calls are rejected") {
    gw_call g;
    // Wrong arity: q would say 'rank.
    const auto b1 = body(value::list({value::symbol(".gw.syncexec"), f2()}));
    CHECK_FALSE(parse_gw(classify(b1, true, msg_type::sync), g));
    const auto b2 = body(value::string(".gw.syncexecj[(`f;2);`hdb]"));
    CHECK_FALSE(parse_gw(classify(b2, true, msg_type::sync), g));
    // Server types that are not symbols.
    const auto b3 = body(value::list({value::symbol(".gw.syncexec"), f2(), value::long_(1)}));
    CHECK_FALSE(parse_gw(classify(b3, true, msg_type::sync), g));
    const auto b4 = body(value::string(".gw.syncexec[(`f;2);hdb]"));
    CHECK_FALSE(parse_gw(classify(b4, true, msg_type::sync), g));
    // Not a gateway call at all; near-misses are ordinary names.
    const auto b5 = body(value::list({value::symbol(".gw.syncexecx"), f2(), value::symbol("a")}));
    const call_info c5 = classify(b5, true, msg_type::sync);
    CHECK(c5.gw == gw_kind::none);
    CHECK_FALSE(parse_gw(c5, g));
    // "name arg" without brackets is not the gateway API.
    const auto b6 = body(value::string(".gw.syncexec (`f;2)"));
    CHECK(classify(b6, true, msg_type::sync).gw == gw_kind::none);
}

}  // namespace
}  // namespace qgate::route
