// DESIGN: "host:port" text <-> qgate::endpoint <-> sockaddr. Hosts are numeric (IPv4, or
// IPv6 in brackets) or "localhost", never resolved through DNS: a gateway should not stall
// or change behaviour because a resolver did. Pure functions; any thread.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

#include "qgate/ctl.h"

namespace qgate::ctl {
namespace {

constexpr std::string_view kLocalhost = "localhost";

bool parse_port(std::string_view text, uint16_t& out, std::string& error) {
    unsigned value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end || value > 65535) {
        error = "port \"" + std::string(text) + "\" is not a number in 0..65535";
        return false;
    }
    out = static_cast<uint16_t>(value);
    return true;
}

bool is_ipv4(const std::string& host) {
    in_addr a{};
    return inet_pton(AF_INET, host.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& host) {
    in6_addr a{};
    return inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

}  // namespace

bool parse_endpoint(std::string_view text, endpoint& out, std::string& error) {
    std::string host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        std::size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() ||
            text[close + 1] != ':') {
            error = "expected \"[ipv6]:port\"";
            return false;
        }
        host = std::string(text.substr(1, close - 1));
        port = text.substr(close + 2);
        if (!is_ipv6(host)) {
            error = "\"" + host + "\" is not a numeric IPv6 address";
            return false;
        }
    } else {
        std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            error = R"(expected "host:port" (IPv6 as "[::1]:port"))";
            return false;
        }
        host = std::string(text.substr(0, colon));
        port = text.substr(colon + 1);
        if (host.find(':') != std::string::npos) {
            error = "IPv6 addresses need brackets: \"[" + host + "]:port\"";
            return false;
        }
        if (host != kLocalhost && !is_ipv4(host)) {
            error = "host \"" + host + "\" is not a numeric IPv4 address or localhost";
            return false;
        }
    }
    uint16_t port_number = 0;
    if (!parse_port(port, port_number, error)) return false;
    out.host = std::move(host);
    out.port = port_number;
    return true;
}

bool parse_host_port(std::string_view text, endpoint& out, std::string& error) {
    if (!text.empty() && text.front() == '[') return parse_endpoint(text, out, error);
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        error = R"(expected "host:port")";
        return false;
    }
    const std::string_view host = text.substr(0, colon);
    // A name the resolver may look up: letters, digits, '-', '.', '_' (and nothing q or a log
    // line would misread).
    for (const char c : host) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
        if (!ok) {
            error = "host \"" + std::string(host) + "\" is not a host name or IPv4 address";
            return false;
        }
    }
    uint16_t port = 0;
    if (!parse_port(text.substr(colon + 1), port, error)) return false;
    out.host = std::string(host);
    out.port = port;
    return true;
}

std::string format_endpoint(const endpoint& ep) {
    if (ep.host.find(':') != std::string::npos) {
        return "[" + ep.host + "]:" + std::to_string(ep.port);
    }
    return ep.host + ":" + std::to_string(ep.port);
}

bool endpoint_to_sockaddr(const endpoint& ep, sockaddr_storage& out, socklen_t& len) {
    std::memset(&out, 0, sizeof out);
    const std::string host = (ep.host == kLocalhost) ? std::string("127.0.0.1") : ep.host;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(ep.port);
        len = sizeof(sockaddr_in);
        return true;
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(ep.port);
        len = sizeof(sockaddr_in6);
        return true;
    }
    return false;
}

}  // namespace qgate::ctl
