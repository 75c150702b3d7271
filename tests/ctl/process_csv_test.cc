// A TorQ process.csv as a backend file: rows, {VAR} and port sums as TorQ evaluates them,
// proctype filtering, errors with file:line, and its rows joining the [[backend]]s at load.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "qgate/ctl.h"
#include "qgate/reload.h"
#include "temp_dir.h"

using namespace qgate;
using namespace qgate::ctl;

namespace {

// As in TorQ's config/process.csv (lines 2.. of a real file), with KDBBASEPORT = 6000.
constexpr std::string_view kTorq =
    "host,port,proctype,procname,U,localtime,g,T,w,load,startwithall,extras,qcmd\n"
    "localhost,{KDBBASEPORT}+100,discovery,discovery1,${TORQHOME}/a.txt,1,0,,,x.q,1,,q\n"
    "localhost,{KDBBASEPORT}+103,rdb,rdb1,${TORQHOME}/a.txt,1,1,180,,rdb.q,1,-x y,q\n"
    "127.0.0.1,6104,hdb,hdb1,,1,1,,,hdb.q,1,,q\n"
    ",6105,rdb,rdb_nohost,,1,1,,,rdb.q,1,,q\n"
    "\n"
    "{HOSTVAR},{KDBBASEPORT}+ 5,rdb,rdb2,,1,1,,,rdb.q,1,\"-a, b\",q\r\n";

const char* fake_env(const char* name) {
    if (std::strcmp(name, "KDBBASEPORT") == 0) return "6000";
    if (std::strcmp(name, "HOSTVAR") == 0) return "127.0.0.2";
    return nullptr;
}

std::vector<backend_conf> parse(std::string_view text, const process_csv_conf& pc,
                                std::string& error) {
    std::vector<backend_conf> out;
    if (!parse_process_csv(text, "p.csv", pc, fake_env, out, error)) out.clear();
    return out;
}

}  // namespace

TEST_CASE("process.csv: rows of the listed proctypes become backends") {
    process_csv_conf pc;
    pc.proctypes = {"rdb"};
    pc.credentials = "u:p";
    pc.conns = 2;
    std::string error;
    const std::vector<backend_conf> b = parse(kTorq, pc, error);
    CHECK(error.empty());
    REQUIRE(b.size() == 2);
    CHECK(b[0].name == "rdb1");
    CHECK(b[0].group == "rdb");
    CHECK(b[0].addr.host == "localhost");
    CHECK(b[0].addr.port == 6103);
    CHECK(b[0].credentials == "u:p");
    CHECK(b[0].conns == 2);
    CHECK(b[0].source == backend_source::process_csv);
    CHECK(b[1].name == "rdb2");  // {HOSTVAR} replaced, "+ 5" summed, CRLF and quotes read
    CHECK(b[1].addr.host == "127.0.0.2");
    CHECK(b[1].addr.port == 6005);
}

TEST_CASE("process.csv: no proctypes = every row but discovery (and rows with a host)") {
    std::string error;
    const std::vector<backend_conf> b = parse(kTorq, process_csv_conf{}, error);
    REQUIRE(b.size() == 3);
    CHECK(b[0].name == "rdb1");
    CHECK(b[1].name == "hdb1");
    CHECK(b[1].group == "hdb");
    CHECK(b[2].name == "rdb2");
}

TEST_CASE("process.csv: what is wrong is named with file:line") {
    const std::string head = "host,port,proctype,procname\n";
    std::string error;
    CHECK(parse(head + "localhost,60x0,rdb,r1\n", {}, error).empty());
    CHECK(error == "p.csv:2: port \"60x0\" is not a number or a sum (6000+1)");
    CHECK(parse(head + "localhost,6000-1,rdb,r1\n", {}, error).empty());
    CHECK(error == "p.csv:2: port \"6000-1\" is not a number or a sum (6000+1)");
    CHECK(parse(head + "localhost,70000,rdb,r1\n", {}, error).empty());
    CHECK(error.find("p.csv:2: port") == 0);
    CHECK(parse(head + "localhost,{KDBBASEPORT+1,rdb,r1\n", {}, error).empty());
    CHECK(error == "p.csv:2: unmatched braces in \"{KDBBASEPORT+1\"");
    CHECK(parse(head + "localhost,1,rdb,r1\nlocalhost,2,rdb,r1\n", {}, error).empty());
    CHECK(error == "p.csv:3: procname r1 repeats");
    CHECK(parse("host,port,procname\nlocalhost,1,r1\n", {}, error).empty());
    CHECK(error == "p.csv:1: header must name host, port, proctype and procname");
    CHECK(parse("", {}, error).empty());
    CHECK(error == "p.csv:0: no header line (host,port,proctype,procname,...)");
    error.clear();  // a bad port on a row not taken is not read
    process_csv_conf hdb_only;
    hdb_only.proctypes = {"hdb"};
    CHECK(parse(head + "localhost,bad,rdb,r1\nlocalhost,7,hdb,h1\n", hdb_only, error).size() ==
          1);
    CHECK(error.empty());
}

TEST_CASE("process.csv: its rows join the [[backend]]s at load; groups it lists exist") {
    test::temp_dir dir;
    dir.write("process.csv", "host,port,proctype,procname\n127.0.0.1,7001,rdb,rdb1\n");
    const std::string toml =
        "[[listener]]\nlisten = \"127.0.0.1:0\"\nmode = \"request\"\ngroup = \"rdb\"\n"
        "[[route]]\nmatch = [\"hist*\"]\ngroup = \"hdb\"\n"
        "[process_csv]\npath = \"process.csv\"\nproctypes = [\"rdb\", \"hdb\"]\n";
    config cfg;
    std::string error;
    REQUIRE_MESSAGE(load_config(dir.write("q.toml", toml), cfg, error), error);
    REQUIRE(cfg.backends.size() == 1);
    CHECK(cfg.backends[0].name == "rdb1");
    CHECK(cfg.backends[0].source == backend_source::process_csv);
    CHECK(cfg.process_csv.path == dir.path() + "/process.csv");  // relative to the file
    CHECK(runtime_groups(cfg) == std::vector<std::string>{"rdb", "hdb"});  // hdb: empty

    // .qgate.config[] writes [process_csv], never its rows as [[backend]]s
    const std::string text = config_toml(cfg);
    CHECK(text.find("[[backend]]") == std::string::npos);
    CHECK(text.find("[process_csv]") != std::string::npos);

    // a clash with a [[backend]] name, and a file that cannot be read
    const std::string clash = toml + "[[backend]]\nname = \"rdb1\"\ngroup = \"rdb\"\n"
                                     "address = \"127.0.0.1:7002\"\n";
    CHECK_FALSE(load_config(dir.write("c.toml", clash), cfg, error));
    CHECK(error == dir.path() + "/process.csv: procname rdb1 is also a [[backend]] name in " +
                       dir.path() + "/c.toml");
    std::filesystem::remove(dir.path() + "/process.csv");
    CHECK_FALSE(load_config(dir.path() + "/q.toml", cfg, error));
    CHECK(error == dir.path() + "/process.csv: cannot open");
}

TEST_CASE("a route may target a group only a runtime source fills") {
    const std::string base =
        "[[listener]]\nlisten = \"127.0.0.1:0\"\nmode = \"request\"\ngroup = \"rdb\"\n";
    config cfg;
    std::string error;
    CHECK_FALSE(load_config_string(base, "t.toml", cfg, error));
    CHECK(error == "t.toml:1: listener[0]: group \"rdb\" has no [[backend]]");
    CHECK(load_config_string(base + "[register]\ngroups = [\"rdb\"]\n", "t.toml", cfg, error));
    CHECK(cfg.registration.enabled);
    CHECK(load_config_string(base + "[discovery]\naddresses = [\"127.0.0.1:9000\"]\n"
                                    "proctypes = [\"rdb\"]\n",
                             "t.toml", cfg, error));
    CHECK_FALSE(load_config_string(base + "[register]\ngroups = [\"hdb\"]\n", "t.toml", cfg,
                                   error));
    CHECK_FALSE(load_config_string(base + "[discovery]\naddresses = [\"nohost\"]\n"
                                          "proctypes = [\"rdb\"]\n",
                                   "t.toml", cfg, error));
    CHECK(error.find("discovery.addresses: \"nohost\" is not host:port") != std::string::npos);
    CHECK_FALSE(load_config_string(base + "[register]\ngroups = [\"rdb\"]\n"
                                          "[discovery]\naddresses = [\"127.0.0.1:9000\"]\n",
                                   "t.toml", cfg, error));
    CHECK(error.find("discovery.proctypes: name the process types") != std::string::npos);
}
