// The registration listener's messages on decoded values alone (src/ctl/register_call.cc):
// registerResource[name;address] as q sends it (a symbol vector), in the general-list form
// (symbols or strings) and the text form, and the q error every other shape gets.
#include <doctest/doctest.h>

#include <string>

#include "ctl/register_call.h"
#include "qgate/qipc/value.h"

using namespace qgate;
using namespace qgate::ctl;
using qipc::value;

namespace {

value sym(const std::string& s) { return value::symbol(s); }

// The error text parse_register_call gives `msg` (it must fail).
std::string refused(const value& msg) {
    register_request r;
    std::string error;
    CHECK_FALSE(parse_register_call(msg, r, error));
    return error;
}

register_request parsed(const value& msg) {
    register_request r;
    std::string error;
    CHECK_MESSAGE(parse_register_call(msg, r, error), error);
    return r;
}

}  // namespace

TEST_CASE("the KX message as q sends it: the symbol vector registerResource, name, :host:port") {
    const register_request r = parsed(
        value::symbols({"registerResource", "EQUITY_MARKET_RDB", ":qhost.example:5002"}));
    CHECK(r.name == "EQUITY_MARKET_RDB");
    CHECK(r.addr.host == "qhost.example");
    CHECK(r.addr.port == 5002);
    CHECK(registered_name(r) == "EQUITY_MARKET_RDB@qhost.example:5002");
}

TEST_CASE("the KX general list: symbols registerResource, name, :host:port") {
    const register_request r =
        parsed(value::list({sym("registerResource"), sym("EQUITY_MARKET_RDB"),
                            sym(":127.0.0.1:5002")}));
    CHECK(r.name == "EQUITY_MARKET_RDB");
    CHECK(r.addr.host == "127.0.0.1");
    CHECK(r.addr.port == 5002);
    CHECK(registered_name(r) == "EQUITY_MARKET_RDB@127.0.0.1:5002");
}

TEST_CASE("name and address may be strings; a host name and a bare host:port are allowed") {
    const register_request r = parsed(value::list(
        {value::string("registerResource"), value::string("rdb"), value::string("qhost1:5002")}));
    CHECK(r.name == "rdb");
    CHECK(r.addr.host == "qhost1");
    CHECK(r.addr.port == 5002);
    const register_request v6 =
        parsed(value::list({sym("registerResource"), sym("rdb"), sym(":[::1]:7000")}));
    CHECK(v6.addr.host == "::1");
    CHECK(registered_name(v6) == "rdb@[::1]:7000");
}

TEST_CASE("the text form: registerResource[name;:host:port] with literals") {
    const register_request r = parsed(value::string("registerResource[`rdb;`:localhost:5002]"));
    CHECK(r.name == "rdb");
    CHECK(r.addr.host == "localhost");
    CHECK(r.addr.port == 5002);
    const register_request s = parsed(value::string(" registerResource[ `hdb ; \":h:9\" ];"));
    CHECK(s.name == "hdb");
    CHECK(s.addr.host == "h");
    CHECK(s.addr.port == 9);
}

TEST_CASE("anything but registerResource is refused with the usage") {
    const std::string usage = "qgate: only registerResource[`name;`:host:port] here";
    CHECK(refused(value::string("1+1")) == usage);
    CHECK(refused(value::string(".qgate.stats[]")) == usage);
    CHECK(refused(value::list({sym("getservices"), sym("rdb"), sym(":h:1")})) == usage);
    CHECK(refused(value::long_(42)) == usage);
    CHECK(refused(value::list({})) == usage);
    CHECK(refused(sym("registerResource")) == usage);
    CHECK(refused(value::symbols({"getservices", "rdb", ":h:1"})) == usage);
    CHECK(refused(value::symbols({})) == usage);
}

TEST_CASE("bad arguments: count, types, name, address") {
    const std::string two = "qgate: registerResource takes two arguments, [`name;`:host:port]";
    CHECK(refused(value::list({sym("registerResource"), sym("rdb")})) == two);
    CHECK(refused(value::symbols({"registerResource", "rdb"})) == two);
    CHECK(refused(value::symbols({"registerResource", "rdb", ":h:1", ":h:2"})) == two);
    CHECK(refused(value::list({sym("registerResource"), sym("rdb"), sym(":h:1"), sym("x")})) ==
          two);
    CHECK(refused(value::list({sym("registerResource"), value::long_(1), sym(":h:1")})) == two);
    CHECK(refused(value::list({sym("registerResource"), value::symbols({"a", "b"}),
                               sym(":h:1")})) == two);
    CHECK(refused(value::string("registerResource[`rdb]")) == two);
    CHECK(refused(value::string("registerResource[`rdb;`:h:1;3]")) == two);
    CHECK(refused(value::string("registerResource")) == two);
    const std::string bad_name = refused(value::string("registerResource[`r b;`:h:1]"));
    CHECK(bad_name.find("the name must be") != std::string::npos);
    CHECK(refused(value::list({sym("registerResource"), sym(""), sym(":h:1")})) == bad_name);
    const std::string no_port = refused(value::string("registerResource[`rdb;`:h]"));
    CHECK(no_port.find("bad address `:h") != std::string::npos);
    CHECK(refused(value::string("registerResource[`rdb;`:h:0]")).find("port 0") !=
          std::string::npos);
    CHECK(refused(value::string("registerResource[`rdb;`:h:70000]")).find("70000") !=
          std::string::npos);
    CHECK(refused(value::string("registerResource[`rdb;`:h/x:1]")).find("not a host name") !=
          std::string::npos);
}
