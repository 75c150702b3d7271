// DESIGN: the admin port's HTTP side, as pure functions (see admin_http.h). Requests are small
// and rare (a Prometheus scrape every few seconds), so the head is parsed with string views
// and the reply built in a std::string; the admin thread owns both. Only what a scraper and a
// browser need is implemented: GET/HEAD, keep-alive, Connection: close, HTTP/1.0. A request
// with a body is answered 400 and the connection closed rather than its body framed.
// To serve a new path, add a row to kHttpRoutes.
#include "ctl/admin_http.h"

#include <algorithm>
#include <cctype>

#include "ctl/prometheus.h"
#include "ctl/status_json.h"

namespace qgate::ctl {
namespace {

std::string_view as_text(std::span<const uint8_t> in) {
    return {reinterpret_cast<const char*>(in.data()), in.size()};
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// "METHOD SP target SP HTTP/1.x": the method upper-case letters, the target without blanks.
bool split_request_line(std::string_view line, std::string_view& method,
                        std::string_view& target, std::string_view& version) {
    const std::size_t sp1 = line.find(' ');
    if (sp1 == 0 || sp1 == std::string_view::npos) return false;
    const std::size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
    method = line.substr(0, sp1);
    target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    version = line.substr(sp2 + 1);
    const bool upper = std::all_of(method.begin(), method.end(), [](char c) {
        return c >= 'A' && c <= 'Z';
    });
    return upper && (version == "HTTP/1.1" || version == "HTTP/1.0");
}

void read_header(std::string_view line, http_request& out) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "connection")) {
        if (iequals(value, "close")) out.keep_alive = false;
        if (iequals(value, "keep-alive")) out.keep_alive = true;
    } else if (iequals(name, "content-length")) {
        out.has_body = out.has_body || value.find_first_not_of('0') != std::string_view::npos;
    } else if (iequals(name, "transfer-encoding")) {
        out.has_body = true;
    }
}

const char* reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    default: return "Error";
    }
}

std::string response(int status, std::string_view type, const std::string& body, bool head,
                     bool close, std::string_view extra = {}) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
    out += "Content-Type: " + std::string(type) + "\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += extra;
    if (close) out += "Connection: close\r\n";
    out += "\r\n";
    if (!head) out += body;
    return out;
}

http_reply metrics_page(const http_context& ctx) {
    const stat_list list = ctx.model.stats();
    return {200, std::string(kPrometheusContentType), prometheus_text(list)};
}

http_reply status_page(const http_context&) {
    return {200, "text/html; charset=utf-8", std::string(status_page_html())};
}

http_reply status_data(const http_context& ctx) {
    const bool fleet = ctx.control != nullptr && ctx.control->fleet_rows;
    return {200, "application/json",
            fleet ? status_json(ctx.model, ctx.control->fleet_rows()) : status_json(ctx.model)};
}

constexpr http_route kHttpRoutes[] = {
    {"/metrics", metrics_page},
    {"/", status_page},
    {"/status.json", status_data},
};

}  // namespace

admin_protocol admin_protocol_of(std::span<const uint8_t> in) {
    const std::string_view s = as_text(in);
    for (const std::string_view m : {std::string_view("GET "), std::string_view("HEAD ")}) {
        if (s.size() < m.size() && m.starts_with(s)) return admin_protocol::undecided;
        if (s.starts_with(m)) return admin_protocol::http;
    }
    const std::size_t nul = s.find('\0');
    const std::size_t eol = s.find("\r\n");
    if (nul != std::string_view::npos && (eol == std::string_view::npos || nul < eol)) {
        return admin_protocol::q;
    }
    if (eol == std::string_view::npos) {
        return s.size() > kHttpHeadMax ? admin_protocol::q : admin_protocol::undecided;
    }
    std::string_view method, target, version;
    return split_request_line(s.substr(0, eol), method, target, version) ? admin_protocol::http
                                                                         : admin_protocol::q;
}

http_parse parse_http_request(std::span<const uint8_t> in, http_request& out) {
    const std::string_view s = as_text(in);
    const std::size_t end = s.find("\r\n\r\n");
    if (end == std::string_view::npos || end + 4 > kHttpHeadMax) {
        const bool over = s.size() >= kHttpHeadMax || end != std::string_view::npos;
        return over ? http_parse::too_large : http_parse::incomplete;
    }
    out = http_request{};
    out.length = end + 4;
    std::string_view head = s.substr(0, end);
    const std::size_t eol = head.find("\r\n");
    std::string_view version;
    if (!split_request_line(head.substr(0, eol), out.method, out.target, version)) {
        return http_parse::bad;
    }
    out.keep_alive = version == "HTTP/1.1";
    head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
    while (!head.empty()) {
        const std::size_t e = head.find("\r\n");
        read_header(head.substr(0, e), out);
        head = e == std::string_view::npos ? std::string_view{} : head.substr(e + 2);
    }
    return http_parse::ok;
}

std::span<const http_route> http_routes() { return kHttpRoutes; }

http_answer http_respond(const http_request& req, const http_context& ctx) {
    const bool head = req.method == "HEAD";
    constexpr std::string_view kText = "text/plain; charset=utf-8";
    if (req.method != "GET" && !head) {
        return {response(405, kText, "405 method not allowed\n", false, true,
                         "Allow: GET, HEAD\r\n"),
                true};
    }
    if (req.has_body) return {response(400, kText, "400 request body not expected\n", head, true),
                              true};
    const std::string_view path = req.target.substr(0, req.target.find('?'));
    for (const http_route& r : kHttpRoutes) {
        if (r.path != path) continue;
        const http_reply rep = r.handler(ctx);
        return {response(rep.status, rep.content_type, rep.body, head, !req.keep_alive),
                !req.keep_alive};
    }
    return {response(404, kText, "404 not found\n", head, !req.keep_alive), !req.keep_alive};
}

std::string http_error(int status) {
    return response(status, "text/plain; charset=utf-8", std::to_string(status) + "\n", false,
                    true);
}

}  // namespace qgate::ctl
