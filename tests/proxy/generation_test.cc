// Hot reload's routing generations (src/proxy/generation.h): stable backend ids across
// reloads, a generation adopted by every shard and freed only when no shard routes with it
// and no call holds it, and removed backends retired only after that.
#include <doctest/doctest.h>

#include "ctl/knobs.h"
#include "proxy/generation.h"
#include "proxy/upstreams.h"

namespace qgate::proxy {
namespace {

config with_backends(std::initializer_list<std::pair<const char*, uint16_t>> bs) {
    config c;
    c.listeners.push_back({{"127.0.0.1", 0}, conn_mode::request, "g", {}});
    for (const auto& [name, port] : bs) c.backends.push_back({name, "g", {"127.0.0.1", port}, ""});
    return c;
}

std::unique_ptr<generation> build(const config& c, const std::vector<uint32_t>& ids,
                                  uint64_t n) {
    auto g = std::make_unique<generation>();
    std::string err;
    REQUIRE_MESSAGE(build_generation(std::make_shared<const config>(c), ids, n, *g, err), err);
    return g;
}

// Another value for knob `k` than `v` (any other: only "differs" matters here).
ctl::knob_value other_value(const ctl::knob& k, ctl::knob_value v) {
    switch (k.type) {
        case ctl::knob_type::integer: v.integer = v.integer < k.max ? v.integer + 1 : k.min; break;
        case ctl::knob_type::boolean: v.integer = 1 - v.integer; break;
        case ctl::knob_type::choice: {
            const std::string_view other = k.choices.substr(0, k.choices.find('|'));
            const bool first = v.text == other;
            v.integer = first ? 1 : 0;
            v.text = first ? std::string(k.choices.substr(other.size() + 1)) : std::string(other);
            v.text = v.text.substr(0, v.text.find('|'));
            break;
        }
        case ctl::knob_type::address: v.addr.port = static_cast<uint16_t>(v.addr.port + 1); break;
        case ctl::knob_type::list: v.list.emplace_back("x"); break;
        case ctl::knob_type::string: v.text += "x"; break;
    }
    return v;
}

}  // namespace

TEST_CASE("backend ids: unchanged backends keep theirs, a change is remove + add") {
    backend_ids reg;
    std::vector<uint32_t> ids;
    std::vector<uint32_t> added;
    std::vector<uint32_t> removed;
    std::string err;
    const config c1 = with_backends({{"a", 5001}, {"b", 5002}, {"c", 5003}});
    REQUIRE(reg.assign(c1, ids, added, removed, err));
    CHECK(ids == std::vector<uint32_t>{0, 1, 2});
    CHECK(added == std::vector<uint32_t>{0, 1, 2});
    CHECK(removed.empty());
    reg.commit(c1, ids);
    // b's address changes, c goes, d comes; a is listed after the newcomers.
    const config c2 = with_backends({{"d", 5004}, {"b", 5012}, {"a", 5001}});
    REQUIRE(reg.assign(c2, ids, added, removed, err));
    CHECK(ids == std::vector<uint32_t>{3, 4, 0});
    CHECK(added == std::vector<uint32_t>{3, 4});
    CHECK(removed == std::vector<uint32_t>{1, 2});
    reg.commit(c2, ids);
    // c comes back: a new id, not its old one (1 and 2 are not released: not quiet yet).
    const config c3 = with_backends({{"a", 5001}, {"c", 5003}});
    REQUIRE(reg.assign(c3, ids, added, removed, err));
    CHECK(ids == std::vector<uint32_t>{0, 5});
    CHECK(removed == std::vector<uint32_t>{3, 4});
}

// The ids follow the knob table (ctl::same_backend): a [[backend]] knob added later is compared
// without a change here, which is what this test pins (issue 18 found a TLS key missing from a
// hand-written list: the reload said "changed" and kept the old plain links).
TEST_CASE("backend ids: a change of any [[backend]] knob but the name is remove + add") {
    int checked = 0;
    for (const ctl::knob& k : ctl::knob_table()) {
        if (k.section() != "backend" || k.key() == "name") continue;
        CAPTURE(k.name);
        backend_ids reg;
        std::vector<uint32_t> ids;
        std::vector<uint32_t> added;
        std::vector<uint32_t> removed;
        std::string err;
        const config c1 = with_backends({{"a", 5001}});
        REQUIRE(reg.assign(c1, ids, added, removed, err));
        reg.commit(c1, ids);
        config c2 = c1;
        k.set(c2, 0, other_value(k, k.get(c1, 0)));
        REQUIRE(reg.assign(c2, ids, added, removed, err));
        CHECK(ids == std::vector<uint32_t>{1});
        CHECK(removed == std::vector<uint32_t>{0});
        REQUIRE(reg.assign(c1, ids, added, removed, err));  // and the same file keeps id 0
        CHECK(ids == std::vector<uint32_t>{0});
        ++checked;
    }
    CHECK(checked >= 13);  // group, address, credentials, conns, pipeline, user pools, TLS
}

TEST_CASE("backend ids: a released (quiet) id is handed out again, smallest first") {
    backend_ids reg;
    std::vector<uint32_t> ids;
    std::vector<uint32_t> added;
    std::vector<uint32_t> removed;
    std::string err;
    const config c1 = with_backends({{"a", 5001}, {"b", 5002}, {"c", 5003}});
    REQUIRE(reg.assign(c1, ids, added, removed, err));
    reg.commit(c1, ids);
    const config c2 = with_backends({{"a", 5001}});
    REQUIRE(reg.assign(c2, ids, added, removed, err));
    CHECK(removed == std::vector<uint32_t>{1, 2});
    reg.commit(c2, ids);
    reg.release(2);  // quiet in this order: b's id later
    reg.release(1);
    CHECK(reg.free_count() == 2);
    const config c3 = with_backends({{"a", 5001}, {"x", 6001}, {"y", 6002}, {"z", 6003}});
    REQUIRE(reg.assign(c3, ids, added, removed, err));
    CHECK(ids == std::vector<uint32_t>{0, 1, 2, 3});  // x and y reuse 1 and 2; z is new
    CHECK(added == std::vector<uint32_t>{1, 2, 3});
    CHECK(reg.free_count() == 2);  // nothing changes before commit
    reg.commit(c3, ids);
    CHECK(reg.free_count() == 0);
    CHECK(reg.issued() == 4);
}

TEST_CASE("generation: groups hold the stable ids, and the ring keys on names") {
    const config c = with_backends({{"a", 5001}, {"b", 5002}});
    auto g1 = build(c, {0, 1}, 1);
    auto g2 = build(c, {7, 3}, 2);  // same names, other ids
    REQUIRE(g1->groups.size() == 1);
    CHECK(std::vector<uint32_t>(g2->groups[0].members().begin(), g2->groups[0].members().end()) ==
          std::vector<uint32_t>{7, 3});
    CHECK(g2->pos[7] == 0);
    CHECK(g2->pos[3] == 1);
    // A key owned by "a" in one is owned by "a" in the other.
    std::vector<route::backend_state> st(kBackendsMax);
    for (auto& s : st) s.live.store(true);
    for (uint64_t h = 1; h < 50; ++h) {
        const uint64_t key = h * 0x9e3779b97f4a7c15ull;
        const int32_t b1 = g1->groups[0].ring_pick(key, st);
        const int32_t b2 = g2->groups[0].ring_pick(key, st);
        CHECK((b1 == 0) == (b2 == 7));
    }
}

TEST_CASE("gen_holder: freed only after every shard moved on and no call holds it") {
    gen_holder gens(2);
    const config c = with_backends({{"a", 5001}, {"b", 5002}});
    gens.publish(build(c, {0, 1}, 1), {});
    gens.saw(0, 1);
    gens.saw(1, 1);
    const generation* g1 = gens.current();
    g1->hold(0);  // a call routed on shard 0 with generation 1
    gens.publish(build(with_backends({{"a", 5001}}), {0}, 2), {1});  // b removed
    CHECK(gens.current()->number == 2);
    CHECK_FALSE(gens.adopted(2));
    CHECK(gens.reclaim().empty());
    gens.saw(0, 2);
    CHECK(gens.reclaim().empty());  // shard 1 still routes with 1
    CHECK(gens.old_count() == 1);
    gens.saw(1, 2);
    CHECK(gens.adopted(2));
    CHECK(gens.reclaim().empty());  // the call still holds 1: b keeps serving it
    CHECK_FALSE(gens.retired(1));
    g1->unhold(0);
    CHECK(gens.reclaim() == std::vector<uint32_t>{1});
    CHECK(gens.retired(1));
    CHECK_FALSE(gens.retired(0));
    CHECK(gens.old_count() == 0);
}

TEST_CASE("generation: a route to no group or a request listener of no group does not build") {
    config c = with_backends({{"a", 5001}});
    c.routes.push_back({});
    c.routes.back().group = "nope";
    generation g;
    std::string err;
    CHECK_FALSE(build_generation(std::make_shared<const config>(c), {0}, 1, g, err));
    CHECK(err.find("nope") != std::string::npos);
    c.routes.clear();
    c.listeners[0].group = "other";
    generation g2;
    CHECK_FALSE(build_generation(std::make_shared<const config>(c), {0}, 1, g2, err));
}

}  // namespace qgate::proxy

// ---------------------------------------------------------------- the engine adopting one

#include "engine_rig.h"

namespace qgate::proxy {

TEST_CASE("engine: a reload is adopted at the next turn: the added backend's pool connects, the "
          "removed one's closes once retired and does not reconnect") {
    testing::engine_rig rig;
    auto c = testing::engine_rig::request_config();
    c->backends.push_back({"b1", "g", {"127.0.0.1", 1}, "", 1, pipeline_mode::off});  // no probe
    rig.start(c);
    const uint32_t pool0 = sock_id(0, role::upstream);
    const testing::rec* first = rig.be.last(io::op::connect, pool0);
    REQUIRE(first != nullptr);
    const int fd0 = first->fd;
    CHECK(rig.pool_connect(pool0) == std::string("qgate\x03", 7));
    rig.read(pool0, "\x03");

    auto c2 = testing::engine_rig::request_config();
    c2->backends.push_back({"b2", "g", {"127.0.0.1", 2}, "", 1});  // b1 removed, b2 added
    std::string err;
    REQUIRE(rig.ups.add(*c2, {1}, {1}, err));
    rig.gens.publish(build(*c2, {1}, 2), {0});
    CHECK_FALSE(rig.gens.adopted(2));
    rig.eng->on_turn(testing::g_now);
    CHECK(rig.gens.adopted(2));
    const uint32_t pool1 = sock_id(1, role::upstream);
    REQUIRE(rig.be.last(io::op::connect, pool1) != nullptr);  // b2's pool, in a new slot
    CHECK_FALSE(rig.be.was_closed(fd0));                        // b1 drains: still open

    CHECK(rig.gens.reclaim() == std::vector<uint32_t>{0});  // no call held generation 1
    rig.eng->on_turn(testing::g_now);
    CHECK(rig.ctr.backends_retired.load() == 1);
    const testing::rec* rd = rig.be.last(io::op::read, pool0);
    if (rd != nullptr && !rd->done) rig.end_read(pool0, 0);  // the shut-down socket's read ends
    CHECK(rig.be.was_closed(fd0));
    const size_t connects = rig.be.count(io::op::connect, pool0);
    testing::g_now += 60000;  // far past any reconnect backoff
    rig.eng->on_turn(testing::g_now);
    CHECK(rig.be.count(io::op::connect, pool0) == connects);  // retired: no reconnect
}

}  // namespace qgate::proxy
