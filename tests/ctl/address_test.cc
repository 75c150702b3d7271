// "host:port" parsing, formatting and conversion to sockaddr.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "qgate/ctl.h"

using namespace qgate;
using namespace qgate::ctl;

namespace {

std::string error_of(std::string_view text) {
    endpoint ep;
    std::string error;
    return parse_endpoint(text, ep, error) ? "(ok)" : error;
}

}  // namespace

TEST_CASE("parse_endpoint accepts IPv4, bracketed IPv6 and localhost") {
    endpoint ep;
    std::string error;
    REQUIRE(parse_endpoint("127.0.0.1:5010", ep, error));
    CHECK(ep.host == "127.0.0.1");
    CHECK(ep.port == 5010);
    REQUIRE(parse_endpoint("0.0.0.0:0", ep, error));
    CHECK(ep.port == 0);
    REQUIRE(parse_endpoint("[::1]:65535", ep, error));
    CHECK(ep.host == "::1");
    CHECK(ep.port == 65535);
    REQUIRE(parse_endpoint("[fe80::1:2]:1", ep, error));
    CHECK(ep.host == "fe80::1:2");
    REQUIRE(parse_endpoint("localhost:5011", ep, error));
    CHECK(ep.host == "localhost");
}

TEST_CASE("parse_endpoint rejects with a reason") {
    CHECK(error_of("127.0.0.1") == "expected \"host:port\" (IPv6 as \"[::1]:port\")");
    CHECK(error_of("127.0.0.1:") == "port \"\" is not a number in 0..65535");
    CHECK(error_of("127.0.0.1:65536") == "port \"65536\" is not a number in 0..65535");
    CHECK(error_of("127.0.0.1:50x") == "port \"50x\" is not a number in 0..65535");
    CHECK(error_of("127.0.0.1:-1") == "port \"-1\" is not a number in 0..65535");
    CHECK(error_of(":5010") == "host \"\" is not a numeric IPv4 address or localhost");
    CHECK(error_of("256.0.0.1:5010") ==
          "host \"256.0.0.1\" is not a numeric IPv4 address or localhost");
    CHECK(error_of("example.com:5010") ==
          "host \"example.com\" is not a numeric IPv4 address or localhost");
    CHECK(error_of("::1:5010") == "IPv6 addresses need brackets: \"[::1]:port\"");
    CHECK(error_of("[::1]5010") == "expected \"[ipv6]:port\"");
    CHECK(error_of("[::1") == "expected \"[ipv6]:port\"");
    CHECK(error_of("[1.2.3.4]:5") == "\"1.2.3.4\" is not a numeric IPv6 address");
    CHECK(error_of("") == "expected \"host:port\" (IPv6 as \"[::1]:port\")");
}

TEST_CASE("format_endpoint round-trips") {
    for (const char* text : {"127.0.0.1:5010", "[::1]:0", "localhost:1"}) {
        endpoint ep;
        std::string error;
        REQUIRE(parse_endpoint(text, ep, error));
        CHECK(format_endpoint(ep) == text);
    }
}

TEST_CASE("endpoint_to_sockaddr") {
    sockaddr_storage sa{};
    socklen_t len = 0;
    REQUIRE(endpoint_to_sockaddr({"localhost", 5010}, sa, len));
    CHECK(sa.ss_family == AF_INET);
    CHECK(len == sizeof(sockaddr_in));
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&sa);
    CHECK(ntohs(v4->sin_port) == 5010);
    CHECK(ntohl(v4->sin_addr.s_addr) == INADDR_LOOPBACK);
    REQUIRE(endpoint_to_sockaddr({"::1", 7}, sa, len));
    CHECK(sa.ss_family == AF_INET6);
    CHECK(len == sizeof(sockaddr_in6));
    CHECK(ntohs(reinterpret_cast<const sockaddr_in6*>(&sa)->sin6_port) == 7);
    CHECK_FALSE(endpoint_to_sockaddr({"example.com", 7}, sa, len));
}
