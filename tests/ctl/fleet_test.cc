// The fleet's pure parts (src/ctl/fleet_json.cc, fleet_view.cc, etcd_client.cc's watch
// message reader): the strict JSON parser on etcd's replies and on malformed text, base64 both
// ways, prefix ranges, and the key map read into backends, drains, instances and the health
// quorum. etcd itself is exercised by tests/integration/fleet.test.js.
#include <doctest/doctest.h>

#include "ctl/etcd_client.h"
#include "ctl/fleet_json.h"
#include "ctl/fleet_view.h"

namespace qgate::ctl::fleet {
namespace {

std::string error_of(std::string_view text) {
    std::string e;
    CHECK_FALSE(parse_json(text, e).has_value());
    return e;
}

}  // namespace

TEST_CASE("fleet json: an etcd range reply") {
    std::string e;
    const auto j = parse_json(
        R"({"header":{"cluster_id":"15118495548433857066","revision":"12","raft_term":"2"},)"
        R"("kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"9","version":"1",)"
        R"("value":"YmFy","lease":"4111120492994496268"}],"count":"1"})",
        e);
    REQUIRE(j.has_value());
    CHECK(j->get("header")->int_of("revision") == 12);
    const json& kv = j->get("kvs")->items.at(0);
    CHECK(kv.int_of("lease") == 4111120492994496268);  // int64 through no double
    CHECK(*base64_decode(kv.str("key")) == "foo");
    CHECK(j->int_of("missing", -1) == -1);
    CHECK(j->str("count") == "1");
}

TEST_CASE("fleet json: values, escapes and nesting") {
    std::string e;
    const auto j = parse_json(
        R"( {"a":[1,-2.5e3,true,false,null],"s":"x\"\\\/\n\u00e9\ud83d\ude00"} )", e);
    REQUIRE(j.has_value());
    const json& a = *j->get("a");
    CHECK(a.items.size() == 5);
    CHECK(a.items[1].text == "-2.5e3");
    CHECK(a.items[2].b);
    CHECK(a.items[4].k == json::kind::null);
    CHECK(j->str("s") == "x\"\\/\n\xc3\xa9\xf0\x9f\x98\x80");
    CHECK(parse_json(quote("a\"b\\c\x01"), e)->text == "a\"b\\c\x01");
}

TEST_CASE("fleet json: malformed text is refused with where") {
    CHECK(error_of("") == "unexpected end at byte 0");
    CHECK(error_of("{\"a\":1,}").find("expected a name") == 0);
    CHECK(error_of("[1 2]").find("expected ',' or ']'") == 0);
    CHECK(error_of("{\"a\":1} x").find("text after the JSON value") == 0);
    CHECK(error_of("\"\\ud800\"").find("lone surrogate") == 0);
    CHECK(error_of("\"a\nb\"").find("control character") == 0);
    CHECK(error_of("01.").find("bad number") == 0);
    CHECK(error_of("tru").find("unknown word") == 0);
    CHECK(error_of(std::string(100, '[') + std::string(100, ']')).find("nested too deep") == 0);
}

TEST_CASE("fleet base64 and prefix ranges") {
    const std::vector<std::string> texts = {"",     "f",   "fo", "foo", "foob",
                                            "/qgate/backends/rdb1", std::string("\x00\xff\x10", 3)};
    for (const std::string& s : texts) {
        CAPTURE(s);
        CHECK(base64_decode(base64_encode(s)) == s);
    }
    CHECK(base64_encode("foob") == "Zm9vYg==");
    CHECK_FALSE(base64_decode("Zm9").has_value());
    CHECK_FALSE(base64_decode("Zm=v").has_value());
    CHECK_FALSE(base64_decode("Zm9*").has_value());
    CHECK(prefix_end("/qgate/") == "/qgate0");
    CHECK(prefix_end(std::string("a\xff", 2)) == "b");
}

TEST_CASE("fleet view: backends, drains, instances and the health quorum") {
    kv_map kv;
    const std::string p = "/q/";
    apply_event(kv, p, "/q/backends/b2", true,
                R"({"group":"rdb","address":"127.0.0.1:5002","source":"register"})");
    apply_event(kv, p, "/q/backends/b1", true, R"({"group":"rdb","address":"127.0.0.1:5001"})");
    apply_event(kv, p, "/q/backends/bad", true, R"({"group":"rdb","address":"nope"})");
    apply_event(kv, p, "/q/backends/junk", true, "{");
    apply_event(kv, p, "/other/backends/x", true, R"({"group":"g","address":"1.2.3.4:1"})");
    apply_event(kv, p, "/q/drain/b1", true, "1");
    apply_event(kv, p, "/q/instances/g1", true,
                instance_value({"g1", "10.0.0.1:7000", 4, 1700000000000}));
    apply_event(kv, p, "/q/health/b1/g1", true, "down");
    apply_event(kv, p, "/q/health/b1/g2", true, "down");
    apply_event(kv, p, "/q/health/b2/g1", true, "down");
    apply_event(kv, p, "/q/health/b2/g2", true, "up");

    backend_conf def;
    def.conns = 7;
    def.source = backend_source::fleet;
    std::vector<std::string> bad;
    const auto list = backends_of(kv, def, bad);
    REQUIRE(list.size() == 2);
    CHECK(list[0].name == "b1");  // name order, whatever order the keys came in
    CHECK(list[0].source == backend_source::fleet);
    CHECK(list[0].conns == 7);
    CHECK(list[1].source == backend_source::registered);
    CHECK(list[1].addr.port == 5002);
    CHECK(bad.size() == 2);
    CHECK(drained_of(kv) == std::set<std::string>{"b1"});
    const auto inst = instances_of(kv);
    REQUIRE(inst.size() == 1);
    CHECK(inst[0].address == "10.0.0.1:7000");
    CHECK(inst[0].generation == 4);
    CHECK(down_of(kv, 2) == std::set<std::string>{"b1"});
    CHECK(down_of(kv, 1) == std::set<std::string>{"b1", "b2"});
    CHECK(down_of(kv, 0).empty());
    apply_event(kv, p, "/q/health/b1/g2", false, "");  // g2's lease expired
    CHECK(down_of(kv, 2).empty());
}

TEST_CASE("fleet watch messages: events, deletes, a canceled watch") {
    std::vector<etcd_event> ev;
    int64_t rev = 0;
    bool canceled = false;
    std::string e;
    CHECK(read_watch_message(
        R"({"result":{"header":{"revision":"4"},"events":[{"kv":{"key":"YQ==","value":"Yg==",)"
        R"("mod_revision":"3"}},{"type":"DELETE","kv":{"key":"Yw==","mod_revision":"4"}}]}})",
        ev, rev, canceled, e));
    REQUIRE(ev.size() == 2);
    CHECK((ev[0].put && ev[0].kv.key == "a" && ev[0].kv.value == "b"));
    CHECK((!ev[1].put && ev[1].kv.key == "c"));
    CHECK(rev == 4);
    CHECK(read_watch_message(R"({"result":{"header":{},"canceled":true,)"
                             R"("compact_revision":"9"}})",
                             ev, rev, canceled, e));
    CHECK(canceled);
    CHECK_FALSE(read_watch_message(R"({"error":{"grpc_code":14}})", ev, rev, canceled, e));
}

}  // namespace qgate::ctl::fleet
