// The TorQ discovery client's pure part (src/ctl/discovery_rows.cc) on bytes: a getservices
// answer and a procupdate push, encoded as a discovery process sends them, decode to rows;
// hpups parse as TorQ's formathp writes them; one discovery's view keeps the configured
// proctypes' tcp rows, replaces by hpup and by procname, and becomes backends.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ctl/discovery_rows.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"

using namespace qgate;
using namespace qgate::ctl::disc;
using qipc::value;

namespace {

// TorQ's attributes column: a general list of dicts (here `a`b!(1;2) for each row).
value attributes(std::size_t n) {
    std::vector<value> items;
    for (std::size_t i = 0; i < n; ++i) {
        const int64_t v[] = {1, 2};
        items.push_back(value::dict(value::symbols({"a", "b"}), value::longs(v)));
    }
    return value::list(std::move(items));
}

// The bytes a discovery process sends, decoded as the client decodes them.
value on_the_wire(const value& v, qipc::msg_type t) {
    const std::vector<uint8_t> msg = qipc::encode_message(v, t);
    qipc::frame_header h;
    value out;
    REQUIRE(qipc::decode_message(msg, h, out).ok());
    CHECK(h.type == t);
    return out;
}

// select procname,proctype,hpup,attributes from .servers.SERVERS ...
value getservices_answer(std::vector<std::string> names, std::vector<std::string> types,
                         std::vector<std::string> hpups) {
    const std::size_t n = names.size();
    return value::table({"procname", "proctype", "hpup", "attributes"},
                        {value::symbols(std::move(names)), value::symbols(std::move(types)),
                         value::symbols(std::move(hpups)), attributes(n)});
}

std::vector<row> rows_of(const value& table) {
    std::vector<row> rows;
    std::string err;
    REQUIRE_MESSAGE(read_rows(table, rows, err), err);
    return rows;
}

const std::vector<std::string> kRdbHdb{"rdb", "hdb"};

}  // namespace

TEST_CASE("discovery: hpups as TorQ writes them, tcp and tcps") {
    endpoint ep;
    CHECK(parse_hpup(":127.0.0.1:5010", ep) == hpup_kind::tcp);
    CHECK(ep.host == "127.0.0.1");
    CHECK(ep.port == 5010);
    CHECK(parse_hpup("::5011", ep) == hpup_kind::tcp);  // q's hopen `::port: this host
    CHECK(ep.host == "localhost");
    CHECK(ep.port == 5011);
    CHECK(parse_hpup(":LOCALHOST:5012", ep) == hpup_kind::tcp);
    CHECK(ep.port == 5012);
    CHECK(parse_hpup(":127.0.0.1:5013:user:pass", ep) == hpup_kind::tcp);
    CHECK(ep.port == 5013);
    CHECK(parse_hpup(":tcps://127.0.0.1:5014", ep) == hpup_kind::tcps);
    CHECK(ep.host == "127.0.0.1");
    CHECK(ep.port == 5014);
    CHECK(parse_hpup(":TCPS://Db.Example:5015", ep) == hpup_kind::tcps);
    CHECK(ep.host == "db.example");
    CHECK(ep.port == 5015);
    CHECK(parse_hpup(":tcps://", ep) == hpup_kind::bad);
    CHECK(parse_hpup(":tcps://127.0.0.1", ep) == hpup_kind::bad);
    CHECK(parse_hpup(":unix://5015", ep) == hpup_kind::unix_socket);
    CHECK(parse_hpup(":Unix://5015", ep) == hpup_kind::unix_socket);
    CHECK(parse_hpup(":SomeHost.example:5016", ep) == hpup_kind::tcp);  // resolved by the sink
    CHECK(ep.host == "somehost.example");
    CHECK(ep.port == 5016);
    CHECK(parse_hpup(":some_host:5016", ep) == hpup_kind::bad);
    CHECK(parse_hpup(":somehost:65536", ep) == hpup_kind::bad);
    CHECK(parse_hpup("127.0.0.1:5017", ep) == hpup_kind::bad);  // not a handle symbol
    CHECK(parse_hpup(":127.0.0.1:0", ep) == hpup_kind::bad);
    CHECK(parse_hpup(":127.0.0.1:port", ep) == hpup_kind::bad);
    CHECK(parse_hpup("", ep) == hpup_kind::bad);
}

TEST_CASE("discovery: a getservices answer decodes to rows, columns by name") {
    const value t = on_the_wire(
        getservices_answer({"rdb1", "hdb1"}, {"rdb", "hdb"}, {":127.0.0.1:5010", "::5011"}),
        qipc::msg_type::response);
    const std::vector<row> rows = rows_of(t);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0] == row{"rdb1", "rdb", ":127.0.0.1:5010"});
    CHECK(rows[1] == row{"hdb1", "hdb", "::5011"});

    // An empty .servers.SERVERS: q sends the empty attributes column as (), others typed;
    // a hand-built one may send every column as ().
    const value empty = value::table({"procname", "proctype", "hpup", "attributes"},
                                     {value::list({}), value::list({}), value::symbols({}),
                                      value::list({})});
    CHECK(rows_of(on_the_wire(empty, qipc::msg_type::response)).empty());

    std::vector<row> rows2;
    std::string err;
    CHECK_FALSE(read_rows(value::symbols({"rdb1"}), rows2, err));
    CHECK_FALSE(read_rows(value::table({"procname", "proctype"},
                                       {value::symbols({"a"}), value::symbols({"rdb"})}),
                          rows2, err));
    CHECK(err.find("hpup") != std::string::npos);
}

TEST_CASE("discovery: a procupdate push (proctype first) decodes; other pushes do not") {
    // register's `select proctype,procname,hpup,attributes`: another column order.
    const value t = value::table(
        {"proctype", "procname", "hpup", "attributes"},
        {value::symbols({"rdb"}), value::symbols({"rdb2"}), value::symbols({":127.0.0.1:6000"}),
         attributes(1)});
    const value push = on_the_wire(value::list({value::symbol(".servers.procupdate"), t}),
                                   qipc::msg_type::async);
    std::vector<row> rows;
    std::string err;
    REQUIRE(read_push(push, rows, err) == push_kind::procupdate);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0] == row{"rdb2", "rdb", ":127.0.0.1:6000"});

    const value other = value::list({value::symbol(".servers.autodiscovery"), value::symbol("")});
    CHECK(read_push(other, rows, err) == push_kind::other);
    CHECK(read_push(value::string("show 1"), rows, err) == push_kind::other);
    const value no_table = value::list({value::symbol(".servers.procupdate"), value::long_(1)});
    CHECK(read_push(no_table, rows, err) == push_kind::bad);
}

TEST_CASE("discovery: the getservices call is (`getservices; proctypes; 1b), sync") {
    const std::vector<uint8_t> msg = getservices_message(kRdbHdb);
    qipc::frame_header h;
    value v;
    REQUIRE(qipc::decode_message(msg, h, v).ok());
    CHECK(h.type == qipc::msg_type::sync);
    CHECK(v == value::list({value::symbol("getservices"), value::symbols(kRdbHdb),
                            value::boolean(true)}));
}

TEST_CASE("discovery: the view keeps configured proctypes' tcp rows, as backends") {
    view vw(kRdbHdb);
    uint64_t skipped = 0;
    const std::vector<row> rows = rows_of(getservices_answer(
        {"rdb1", "tp1", "hdb1", "rdbtls", "rdbunix", "rdbname"},
        {"rdb", "tickerplant", "hdb", "rdb", "rdb", "rdb"},
        {":127.0.0.1:5010", ":127.0.0.1:5000", "::5011", ":tcps://127.0.0.1:5012", ":unix://5013",
         ":some_host:5014"}));
    CHECK(vw.replace(rows, skipped));
    CHECK(skipped == 3);  // the tickerplant, unix and a name that is no host name
    discovery_conf dc;
    dc.proctypes = kRdbHdb;
    dc.credentials = "gw:pw";
    dc.conns = 2;
    dc.tls_ca = "/ca.pem";
    const std::vector<backend_conf> b = vw.backends(dc);
    REQUIRE(b.size() == 3);
    CHECK(b[0].name == "hdb1");
    CHECK(b[0].group == "hdb");
    CHECK(b[0].addr.host == "localhost");
    CHECK(b[0].addr.port == 5011);
    CHECK(b[1].name == "rdb1");
    CHECK(b[1].group == "rdb");
    CHECK(b[1].addr.host == "127.0.0.1");
    CHECK(b[1].addr.port == 5010);
    CHECK_FALSE(b[1].tls);
    CHECK(b[2].name == "rdbtls");  // `:tcps://: a TLS backend with [discovery] tls_ca
    CHECK(b[2].addr.port == 5012);
    CHECK(b[2].tls);
    CHECK(b[2].tls_ca == "/ca.pem");
    for (const backend_conf& x : b) {
        CHECK(x.source == backend_source::discovery);
        CHECK(x.credentials == "gw:pw");
        CHECK(x.conns == 2);
    }
    CHECK_FALSE(vw.replace(rows, skipped));  // the same answer again: no change
}

TEST_CASE("discovery: procupdate replaces by hpup and by name; getservices is the truth") {
    view vw(kRdbHdb);
    uint64_t skipped = 0;
    CHECK(vw.replace({{"rdb1", "rdb", ":127.0.0.1:5010"}, {"rdb2", "rdb", ":127.0.0.1:5020"}},
                     skipped));
    // A new process on rdb1's port (TorQ addprocs: same hpup, another name replaces).
    CHECK(vw.merge({{"rdb3", "rdb", ":127.0.0.1:5010"}}, skipped));
    // rdb2 registered again from another port: the newest registration is the backend.
    CHECK(vw.merge({{"rdb2", "rdb", ":127.0.0.1:5021"}}, skipped));
    CHECK_FALSE(vw.merge({{"rdb2", "rdb", ":127.0.0.1:5021"}}, skipped));  // nothing new
    CHECK(vw.merge({{"x", "tickerplant", ":127.0.0.1:5030"}}, skipped) == false);
    CHECK(skipped == 1);
    discovery_conf dc;
    std::vector<backend_conf> b = vw.backends(dc);
    REQUIRE(b.size() == 2);
    CHECK(b[0].name == "rdb2");
    CHECK(b[0].addr.port == 5021);
    CHECK(b[1].name == "rdb3");
    CHECK(b[1].addr.port == 5010);
    // A refresh that no longer lists rdb3: it goes (TorQ pushes no removals).
    CHECK(vw.replace({{"rdb2", "rdb", ":127.0.0.1:5021"}}, skipped));
    b = vw.backends(dc);
    REQUIRE(b.size() == 1);
    CHECK(b[0].name == "rdb2");
    CHECK(vw.replace({}, skipped));
    CHECK(vw.size() == 0);
}
