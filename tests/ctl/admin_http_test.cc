// The admin port's HTTP side on bytes alone: the first bytes decide between q and HTTP, a
// request head is parsed (keep-alive, Connection: close, HTTP/1.0, bodies, the 8 KiB bound),
// and each request gets its response: /metrics in Prometheus' content type, 404, 405, HEAD.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/admin_http.h"
#include "ctl/admin_query.h"
#include "ctl/prometheus.h"

using namespace qgate;
using namespace qgate::ctl;

namespace {

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

admin_protocol proto(std::string_view s) { return admin_protocol_of(bytes(s)); }

constexpr stat_desc kOpen{"conns_open", stat_kind::gauge, "connections", "open now", {}};

http_answer respond(std::string_view head) {
    const std::vector<uint8_t> in = bytes(head);
    http_request req;
    REQUIRE(parse_http_request(in, req) == http_parse::ok);
    stats_only_model model([] { return stat_list{{kOpen, {}, 5, {}}}; });
    return http_respond(req, http_context{model});
}

}  // namespace

TEST_CASE("admin http: the first bytes decide between q and HTTP") {
    CHECK(proto("") == admin_protocol::undecided);
    CHECK(proto("GE") == admin_protocol::undecided);
    CHECK(proto("GET ") == admin_protocol::http);
    CHECK(proto("HEAD /metrics") == admin_protocol::http);
    CHECK(proto(std::string_view("user:pw\x03\0", 9)) == admin_protocol::q);
    CHECK(proto(std::string_view("G\x03\0", 3)) == admin_protocol::q);  // a user called "G"
    CHECK(proto("POST /x HTTP/1.1\r\n") == admin_protocol::http);         // answered 405
    CHECK(proto("POST /x") == admin_protocol::undecided);
    CHECK(proto("Admin:pw\r\n") == admin_protocol::q);  // not a request line
    CHECK(proto(std::string(kHttpHeadMax + 1, 'x')) == admin_protocol::q);
}

TEST_CASE("admin http: request heads") {
    http_request r;
    CHECK(parse_http_request(bytes("GET /metrics HTTP/1.1\r\nHost: x\r\n"), r) ==
          http_parse::incomplete);
    const std::string head = "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::vector<uint8_t> two = bytes(head + "GET /");  // r's views point into it
    REQUIRE(parse_http_request(two, r) == http_parse::ok);
    CHECK(r.method == "GET");
    CHECK(r.target == "/metrics?x=1");
    CHECK(r.keep_alive);
    CHECK(r.length == head.size());
    REQUIRE(parse_http_request(bytes("GET / HTTP/1.1\r\nconnection: Close\r\n\r\n"), r) ==
            http_parse::ok);
    CHECK_FALSE(r.keep_alive);
    REQUIRE(parse_http_request(bytes("GET / HTTP/1.0\r\n\r\n"), r) == http_parse::ok);
    CHECK_FALSE(r.keep_alive);
    REQUIRE(parse_http_request(bytes("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), r) ==
            http_parse::ok);
    CHECK(r.keep_alive);
    REQUIRE(parse_http_request(bytes("GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\n"), r) ==
            http_parse::ok);
    CHECK(r.has_body);
    CHECK(parse_http_request(bytes("GET / SPDY/3\r\n\r\n"), r) == http_parse::bad);
    const std::string big = "GET / HTTP/1.1\r\nX: " + std::string(kHttpHeadMax, 'a');
    CHECK(parse_http_request(bytes(big), r) == http_parse::too_large);
    CHECK(parse_http_request(bytes(big + "\r\n\r\n"), r) == http_parse::too_large);
}

TEST_CASE("admin http: /metrics, 404, 405, HEAD, Connection: close") {
    const http_answer m = respond("GET /metrics HTTP/1.1\r\n\r\n");
    CHECK_FALSE(m.close);
    CHECK(m.bytes.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(m.bytes.find("Content-Type: " + std::string(kPrometheusContentType) + "\r\n") !=
          std::string::npos);
    const std::string body = prometheus_text({{kOpen, {}, 5, {}}});
    CHECK(m.bytes.find("Content-Length: " + std::to_string(body.size()) + "\r\n") !=
          std::string::npos);
    CHECK(m.bytes.ends_with("\r\n\r\n" + body));

    const http_answer h = respond("HEAD /metrics HTTP/1.1\r\n\r\n");
    CHECK(h.bytes.find("Content-Length: " + std::to_string(body.size()) + "\r\n") !=
          std::string::npos);
    CHECK(h.bytes.ends_with("\r\n\r\n"));  // no body

    const http_answer nf = respond("GET /nope HTTP/1.1\r\n\r\n");
    CHECK(nf.bytes.starts_with("HTTP/1.1 404 "));
    CHECK_FALSE(nf.close);

    const http_answer na = respond("POST /metrics HTTP/1.1\r\n\r\n");
    CHECK(na.bytes.starts_with("HTTP/1.1 405 "));
    CHECK(na.bytes.find("Allow: GET, HEAD\r\n") != std::string::npos);
    CHECK(na.close);

    const http_answer c = respond("GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
    CHECK(c.close);
    CHECK(c.bytes.find("Connection: close\r\n") != std::string::npos);

    const http_answer b = respond("GET /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\n");
    CHECK(b.bytes.starts_with("HTTP/1.1 400 "));
    CHECK(b.close);
    CHECK(http_error(431).starts_with("HTTP/1.1 431 "));
}
