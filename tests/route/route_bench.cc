// Micro-benchmark of the per-request routing work: classify + match + pick, for the common
// call shapes (q symbol call, node-q string-named call, string query, .gw call) and for each
// policy. Built by tests/route/meson.build, run by hand: build-route/tests/route/route_bench.

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"
#include "qgate/route.h"
#include "qgate/route/acl.h"

namespace {

using namespace qgate::route;
using qgate::qipc::msg_type;
using qgate::qipc::value;

std::vector<uint8_t> body(const value& v) { return qgate::qipc::encode_body(v); }

/// A realistic config: 20 rules (exact lists, globs, a user rule, a fan-out, a catch-all),
/// 3 groups of 4 backends with varied load.
struct setup {
    group_set groups;
    route_table table;
    std::vector<backend_state> state{12};
    pick_cursor cursor;

    explicit setup(policy hot_policy) {
        std::string err;
        std::vector<group_spec> g;
        for (uint32_t gi = 0; gi < 3; ++gi) {
            group_spec s{std::string(gi == 0 ? "rdb" : gi == 1 ? "hdb" : "gw"), {}};
            for (uint32_t i = 0; i < 4; ++i) {
                s.members.push_back({gi * 4 + i, "b" + std::to_string(gi * 4 + i)});
            }
            g.push_back(s);
        }
        group_set::build(g, groups, err);
        std::vector<route_spec> r;
        for (int i = 0; i < 15; ++i) {
            route_spec s;
            s.match = {"fn" + std::to_string(i), "alt" + std::to_string(i)};
            s.groups = {"hdb"};
            r.push_back(s);
        }
        route_spec admin;
        admin.users = {"admin*"};
        admin.groups = {"gw"};
        r.push_back(admin);
        route_spec globbed;
        globbed.match = {"*Quotes", ".api.*"};
        globbed.groups = {"hdb"};
        r.push_back(globbed);
        route_spec hot;
        hot.match = {"getTrades", "getOrders"};
        hot.groups = {"rdb"};
        hot.pol = hot_policy;
        r.push_back(hot);
        route_spec fan;
        fan.match = {"getAll"};
        fan.groups = {"rdb", "hdb"};
        r.push_back(fan);
        route_spec all;
        all.groups = {"hdb"};
        r.push_back(all);
        route_table::compile(r, groups, table, err);
        for (size_t i = 0; i < state.size(); ++i) {
            state[i].live.store(i != 1);
            state[i].load.store(static_cast<uint32_t>((i * 7) % 3));
        }
    }
};

void run(benchmark::State& st, const std::vector<uint8_t>& b, policy p) {
    setup s(p);
    for (auto _ : st) {
        const call_info c = classify(b, true, msg_type::sync);
        const route_rule* r = match_call(s.table, c, "trader");
        int32_t id = kNoBackend;
        if (r != nullptr) id = pick_for_call(*r, s.groups[r->groups[0]], s.state, s.cursor, c);
        benchmark::DoNotOptimize(id);
    }
}

const std::vector<uint8_t>& q_call() {
    static const auto b = body(value::list({value::symbol("getTrades"), value::symbol("AAPL"),
                                            value::long_(100)}));
    return b;
}
const std::vector<uint8_t>& node_call() {
    static const auto b = body(value::list({value::string("getTrades"), value::symbol("AAPL")}));
    return b;
}
const std::vector<uint8_t>& string_call() {
    static const auto b = body(value::string("getTrades[`AAPL;100]"));
    return b;
}

void bm_q_least_busy(benchmark::State& st) { run(st, q_call(), policy::least_busy); }
void bm_q_round_robin(benchmark::State& st) { run(st, q_call(), policy::round_robin); }
void bm_q_first_available(benchmark::State& st) { run(st, q_call(), policy::first_available); }
void bm_q_consistent_hash(benchmark::State& st) { run(st, q_call(), policy::consistent_hash); }
void bm_nodeq_consistent_hash(benchmark::State& st) {
    run(st, node_call(), policy::consistent_hash);
}
void bm_string_consistent_hash(benchmark::State& st) {
    run(st, string_call(), policy::consistent_hash);
}
void bm_glob_fallthrough(benchmark::State& st) {
    static const auto b = body(value::list({value::symbol("unknownFn"), value::long_(1)}));
    run(st, b, policy::least_busy);
}

void bm_gw_syncexec(benchmark::State& st) {
    setup s(policy::least_busy);
    const auto b = body(value::list({value::symbol(".gw.syncexec"),
                                     value::list({value::symbol("f"), value::long_(2)}),
                                     value::symbols({"hdb", "rdb"})}));
    pick_cursor cursors[3];
    for (auto _ : st) {
        const call_info c = classify(b, true, msg_type::sync);
        gw_call g;
        parse_gw(c, g);
        // Server types -> groups as the fan-out client does it (src/proxy/fanouts.cc).
        name_list names(g.servertypes);
        for (std::string_view name; names.next(name);) {
            const int32_t id = s.groups.find(name);
            if (id < 0) continue;
            const auto gid = static_cast<uint16_t>(id);
            benchmark::DoNotOptimize(pick_least_busy(s.groups[gid], s.state, cursors[gid]));
        }
    }
}

void bm_classify_only(benchmark::State& st) {
    for (auto _ : st) benchmark::DoNotOptimize(classify(q_call(), true, msg_type::sync));
}

void bm_match_only(benchmark::State& st) {
    setup s(policy::least_busy);
    for (auto _ : st) {
        benchmark::DoNotOptimize(s.table.match("getTrades", "trader", msg_type::sync));
    }
}

void bm_pick_consistent_only(benchmark::State& st) {
    setup s(policy::consistent_hash);
    for (auto _ : st) {
        benchmark::DoNotOptimize(pick_consistent(s.groups[0], s.state, key_hash("AAPL")));
    }
}

// One pick on a 4-member ring of st.range(0) points per member, over 4096 distinct keys (one
// key alone would keep its search path in L1): the cost of kVirtualNodes. Counter ring_bytes.
void bm_ring_pick(benchmark::State& st) {
    const auto vnodes = static_cast<uint32_t>(st.range(0));
    std::vector<member_spec> m;
    for (uint32_t i = 0; i < 4; ++i) m.push_back({i, "rdb" + std::to_string(i + 1)});
    const backend_group g("rdb", m, vnodes);
    std::vector<backend_state> state(4);
    for (auto& b : state) b.live.store(true);
    std::vector<uint64_t> keys(4096);
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = key_hash("user" + std::to_string(i));
    size_t k = 0;
    for (auto _ : st) {
        benchmark::DoNotOptimize(g.ring_pick(keys[k++ & 4095], state));
    }
    st.counters["ring_bytes"] = static_cast<double>(g.ring_size() * sizeof(uint64_t));
}

void bm_classify_large(benchmark::State& st) {
    // A call carrying a 10,000-long vector: classification validates the whole body.
    std::vector<int64_t> v(10'000, 7);
    const auto b = body(value::list({value::symbol("upd"), value::symbol("trade"),
                                     value::longs(v)}));
    for (auto _ : st) benchmark::DoNotOptimize(classify(b, true, msg_type::async));
}
/// 16 [[acl]] rules, four function globs each; the caller is named by the last two (the
/// worst case: every rule before them is skipped by its mask bit).
struct acl_setup {
    acl_table acl;
    uint64_t rules = 0;
    acl_setup() {
        qgate::config c;
        c.listeners.resize(2);
        for (int i = 0; i < 16; ++i) {
            qgate::acl_conf a;
            a.users = {i < 14 ? "desk" + std::to_string(i) + "-*" : "trader"};
            a.groups = {"rdb", "hdb"};
            a.functions = {"getQuotes", "get*" + std::to_string(i), ".api.*", "getTrades"};
            a.kinds = {"sync", "async"};
            c.acls.push_back(a);
        }
        std::string err;
        acl.compile(c, err);
        rules = acl.rules_for("trader");
    }
};

void bm_acl_check(benchmark::State& st) {
    const acl_setup s;
    const std::vector<uint8_t> b = q_call();
    const call_info call = classify(b, true, msg_type::sync);
    for (auto _ : st) {
        const acl_call c = acl_describe(call, true);
        benchmark::DoNotOptimize(s.acl.call_ok(s.rules, 0, c.kinds, c.function, "rdb"));
    }
}

void bm_acl_rules_for(benchmark::State& st) {  // per login, and per client after a reload
    const acl_setup s;
    for (auto _ : st) benchmark::DoNotOptimize(s.acl.rules_for("trader"));
}

BENCHMARK(bm_q_least_busy);
BENCHMARK(bm_q_round_robin);
BENCHMARK(bm_q_first_available);
BENCHMARK(bm_q_consistent_hash);
BENCHMARK(bm_nodeq_consistent_hash);
BENCHMARK(bm_string_consistent_hash);
BENCHMARK(bm_glob_fallthrough);
BENCHMARK(bm_gw_syncexec);
BENCHMARK(bm_classify_only);
BENCHMARK(bm_match_only);
BENCHMARK(bm_pick_consistent_only);
BENCHMARK(bm_ring_pick)->Arg(160)->Arg(1024)->Arg(4096)->Arg(16384);
BENCHMARK(bm_classify_large);
BENCHMARK(bm_acl_check);
BENCHMARK(bm_acl_rules_for);

}  // namespace

BENCHMARK_MAIN();
