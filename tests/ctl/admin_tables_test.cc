// The admin API's q tables from plain rows (src/ctl/admin_tables.cc): column names and q types
// (symbols, longs, timestamps, strings, lists of symbols), keyed tables as (key table)!(value
// table), long nulls for unknown latencies, and an action's one-row dictionary; each checked
// through the wire (encoded, then decoded) as a client gets it.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "ctl/admin_tables.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/writer.h"

using namespace qgate;
using namespace qgate::ctl;
using qipc::value;
namespace qtype = qipc::qtype;

namespace {

// Encoded as a response and decoded again: what a q client reads.
value wire(const value& v) {
    const std::vector<uint8_t> msg = qipc::encode_message(v, qipc::msg_type::response);
    value out;
    REQUIRE(qipc::decode(std::span(msg).subspan(qipc::kHeaderSize), true, out));
    return out;
}

std::vector<std::string> names_of(const value& table) {
    REQUIRE(table.type == qtype::kTable);
    return table.items.at(0).items.at(0).syms;
}

const value& col(const value& table, std::size_t i) {
    return table.items.at(0).items.at(1).items.at(i);
}

int64_t long_at(const value& v, std::size_t i) {
    int64_t x = 0;
    REQUIRE(v.raw.size() >= (i + 1) * 8);
    std::memcpy(&x, v.raw.data() + i * 8, 8);
    return x;
}

}  // namespace

TEST_CASE("admin tables: backends keyed on name, typed columns, 0N latencies") {
    backend_row a{"rdb1", "rdb", "127.0.0.1:5001", "config", "up", 5, 1, 2, 40, 3,
                  kLongNull, kLongNull, ""};
    backend_row b{"rdb2", "rdb", "127.0.0.1:5002", "config", "draining", 0, 0, 0, 7, 0,
                  kLongNull, 12, "connect: Connection refused"};
    const std::vector<backend_row> rows{a, b};
    const value t = wire(backends_table(rows));
    REQUIRE(t.type == qtype::kDict);
    const value& keys = t.items.at(0);
    const value& vals = t.items.at(1);
    CHECK(names_of(keys) == std::vector<std::string>{"name"});
    CHECK(col(keys, 0).syms == std::vector<std::string>{"rdb1", "rdb2"});
    CHECK(names_of(vals) == std::vector<std::string>{"group", "address", "source", "state",
                                                     "conns", "inflight", "queued", "calls",
                                                     "errors", "p50_us", "p99_us", "lasterror"});
    CHECK(col(vals, 3).type == qtype::kSymbol);
    CHECK(col(vals, 3).syms == std::vector<std::string>{"up", "draining"});
    CHECK(col(vals, 4).type == qtype::kLong);
    CHECK(long_at(col(vals, 6), 0) == 2);   // queued
    CHECK(long_at(col(vals, 7), 0) == 40);  // calls
    CHECK(long_at(col(vals, 9), 0) == INT64_MIN);  // p50_us: 0N
    CHECK(long_at(col(vals, 10), 1) == 12);
    const value& err = col(vals, 11);  // strings: a general list of char vectors
    REQUIRE(err.type == qtype::kList);
    CHECK(err.items.at(0) == value::string(""));
    CHECK(err.items.at(1) == value::string("connect: Connection refused"));
    CHECK(t.count() == 2);
}

TEST_CASE("admin tables: clients keyed on id, since a q timestamp") {
    client_row c;
    c.id = 65;
    c.user = "alice";
    c.address = "127.0.0.1:40000";
    c.listener = 1;
    c.shard = 1;
    c.since_ns = kQEpochUnixNs + 86400 * INT64_C(1000000000) + 5;  // 2000.01.02D00:00:00.000000005
    c.calls = 3;
    const value t = wire(clients_table(std::vector<client_row>{c}));
    REQUIRE(t.type == qtype::kDict);
    CHECK(names_of(t.items.at(0)) == std::vector<std::string>{"id"});
    CHECK(long_at(col(t.items.at(0), 0), 0) == 65);
    const value& v = t.items.at(1);
    CHECK(names_of(v) == std::vector<std::string>{"user", "address", "listener", "shard",
                                                  "since", "calls", "bytesin", "bytesout",
                                                  "inflight"});
    CHECK(col(v, 0).syms == std::vector<std::string>{"alice"});
    CHECK(col(v, 4).type == qtype::kTimestamp);
    CHECK(long_at(col(v, 4), 0) == 86400 * INT64_C(1000000000) + 5);
    CHECK(long_at(col(v, 5), 0) == 3);
}

TEST_CASE("admin tables: no rows is an empty table of the same columns") {
    const value t = wire(clients_table({}));
    REQUIRE(t.type == qtype::kDict);
    CHECK(t.count() == 0);
    CHECK(names_of(t.items.at(1)).size() == 9);
    CHECK(col(t.items.at(1), 4).type == qtype::kTimestamp);
}

TEST_CASE("admin tables: routes unkeyed, match / users / target as lists of symbols") {
    route_row r{0, {"get*", "trades"}, {}, {"hdb", "rdb"}, "round-robin", 9};
    const value t = wire(routes_table(std::vector<route_row>{r}));
    CHECK(names_of(t) ==
          std::vector<std::string>{"order", "match", "users", "target", "policy", "hits"});
    REQUIRE(col(t, 1).type == qtype::kList);
    CHECK(col(t, 1).items.at(0).syms == std::vector<std::string>{"get*", "trades"});
    CHECK(col(t, 2).items.at(0).type == qtype::kSymbol);  // empty: `$() , any user
    CHECK(col(t, 2).items.at(0).syms.empty());
    CHECK(col(t, 3).items.at(0).syms == std::vector<std::string>{"hdb", "rdb"});
    CHECK(long_at(col(t, 5), 0) == 9);
}

TEST_CASE("admin tables: listeners keyed on index; stats name, kind, value, help") {
    listener_row l{0, "127.0.0.1", 5000, "request", "hdb", 2, 7};
    const value t = wire(listeners_table(std::vector<listener_row>{l}));
    CHECK(names_of(t.items.at(0)) == std::vector<std::string>{"index"});
    CHECK(names_of(t.items.at(1)) ==
          std::vector<std::string>{"address", "port", "mode", "group", "shards", "conns"});
    constexpr stat_desc kOpen{"conns_open", stat_kind::gauge, "connections", "open now", {}};
    const value s = wire(stats_table({{kOpen, {}, 5}}));
    CHECK(names_of(s) == std::vector<std::string>{"name", "kind", "value", "help"});
    CHECK(col(s, 1).syms == std::vector<std::string>{"gauge"});
    CHECK(long_at(col(s, 2), 0) == 5);
    CHECK(col(s, 3).items.at(0) == value::string("open now"));
}

TEST_CASE("admin tables: users keyed on user, its counts and limits as longs") {
    const value t = wire(users_table(std::vector<user_row>{{"alice", 2, 3, 0, 64}}));
    CHECK(names_of(t.items.at(0)) == std::vector<std::string>{"user"});
    CHECK(col(t.items.at(0), 0).syms == std::vector<std::string>{"alice"});
    const value& v = t.items.at(1);
    CHECK(names_of(v) ==
          std::vector<std::string>{"conns", "inflight", "connsmax", "callsmax"});
    CHECK(long_at(col(v, 0), 0) == 2);
    CHECK(long_at(col(v, 1), 0) == 3);
    CHECK(long_at(col(v, 3), 0) == 64);
}

TEST_CASE("admin tables: an action's answer is its row as a dictionary of atoms") {
    backend_row a{"rdb1", "rdb", "127.0.0.1:5001", "config", "draining", 1, 0, 0, 4, 0,
                  kLongNull, kLongNull, "x"};
    const value d = wire(backend_dict(a));
    REQUIRE(d.type == qtype::kDict);
    CHECK(d.items.at(0).syms.front() == "name");
    const value& vals = d.items.at(1);
    REQUIRE(vals.type == qtype::kList);
    CHECK(vals.items.at(0) == value::symbol("rdb1"));
    CHECK(vals.items.at(4) == value::symbol("draining"));
    CHECK(vals.items.at(5) == value::long_(1));
    CHECK(vals.items.at(12) == value::string("x"));
    client_row c;
    c.id = 129;
    const value cd = wire(client_dict(c));
    CHECK(cd.items.at(1).items.at(0) == value::long_(129));
    CHECK(cd.items.at(1).items.at(5).type == -qtype::kTimestamp);
}
