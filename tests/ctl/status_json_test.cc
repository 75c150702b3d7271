// The status page's data (/status.json, src/ctl/status_json.cc): every admin table's rows as
// JSON objects, strings escaped, 0N as null, a table the model cannot give listed as an error
// while the others still come.
#include <doctest/doctest.h>

#include <string>

#include "ctl/status_json.h"

using namespace qgate;
using namespace qgate::ctl;

namespace {

constexpr stat_desc kOpen{"conns_open", stat_kind::gauge, "connections", "open now", {}};

class fake_model final : public admin_model {
  public:
    bool clients_busy = false;
    stat_list stats() override { return {{kOpen, {}, 7, {}}}; }
    bool backends(std::vector<backend_row>& out, std::string&) override {
        backend_row b;
        b.name = "rdb\"1";
        b.group = "rdb";
        b.state = "draining";
        b.calls = 12;
        b.p50_us = 150;
        b.lasterror = "connect: refused\n";
        out = {b};
        return true;
    }
    bool clients(std::vector<client_row>& out, std::string& e) override {
        if (clients_busy) {
            e = "qgate: shard 1 busy";
            return false;
        }
        client_row c;
        c.id = 65;
        c.user = "alice";
        out = {c};
        return true;
    }
    bool routes(std::vector<route_row>& out, std::string&) override {
        route_row r;
        r.match = {"getTrades", "get*"};
        r.target = {"rdb", "hdb"};
        r.hits = 3;
        out = {r};
        return true;
    }
    bool listeners(std::vector<listener_row>& out, std::string&) override {
        out = {listener_row{0, "127.0.0.1", 5000, "request", "hdb", 2, 4}};
        return true;
    }
    bool set_drain(std::string_view, bool, backend_row&, std::string&) override { return false; }
    bool kick(int64_t, client_row&, std::string&) override { return false; }
};

bool has(const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("status json: strings are escaped, control characters as \\u00XX") {
    CHECK(json_string("a\"b\\c") == R"("a\"b\\c")");
    CHECK(json_string(std::string_view("x\n\x01", 3)) == R"("x\u000a\u0001")");
    CHECK(json_string("") == R"("")");
}

TEST_CASE("status json: every table's rows, 0N as null, lists as arrays") {
    fake_model m;
    const std::string j = status_json(m);
    CHECK(j.front() == '{');
    CHECK(j.back() == '}');
    CHECK(has(j, R"("name":"rdb\"1")"));
    CHECK(has(j, R"("state":"draining")"));
    CHECK(has(j, R"("calls":12)"));
    CHECK(has(j, R"("p50_us":150)"));
    CHECK(has(j, R"("p99_us":null)"));
    CHECK(has(j, R"("lasterror":"connect: refused\u000a")"));
    CHECK(has(j, R"("match":["getTrades","get*"])"));
    CHECK(has(j, R"("users":[])"));
    CHECK(has(j, R"("clients":[{"id":65,"user":"alice")"));
    CHECK(has(j, R"("listeners":[{"index":0,"address":"127.0.0.1","port":5000)"));
    CHECK(has(j, R"("stats":{"conns_open":7})"));
    CHECK(has(j, R"("errors":[])"));
}

TEST_CASE("status json: a table the model cannot give is empty, its error listed") {
    fake_model m;
    m.clients_busy = true;
    const std::string j = status_json(m);
    CHECK(has(j, R"("clients":[])"));
    CHECK(has(j, R"("errors":["clients: qgate: shard 1 busy"])"));
    CHECK(has(j, R"("name":"rdb\"1")"));  // the others still come
}

TEST_CASE("status page: one self-contained document that refreshes from /status.json") {
    const std::string_view p = status_page_html();
    CHECK(p.starts_with("<!DOCTYPE html>"));
    CHECK(p.find("fetch('/status.json'") != std::string_view::npos);
    CHECK(p.find("<script src") == std::string_view::npos);  // no external script
    CHECK(p.find("textContent") != std::string_view::npos);  // gateway text never as HTML
    CHECK(p.find("innerHTML") == std::string_view::npos);
}
