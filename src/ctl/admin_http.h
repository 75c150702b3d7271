// HTTP on the admin port: q answers HTTP on its own port, and so does qgate's admin port. The
// first bytes of a connection decide (admin_protocol_of); then requests are parsed here and
// answered by the handler of their path in kHttpRoutes (admin_http.cc: a path -> handler
// table; GET /metrics today, the status page next). HTTP/1.1 with keep-alive, GET and HEAD
// only, no request bodies, headers bounded. Pure functions over bytes: the socket loop
// (admin.cc) owns the connection. Admin thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "qgate/admin.h"
#include "qgate/admin_api.h"
#include "qgate/stats.h"

namespace qgate::ctl {

/// Longest request head (request line + headers) accepted; past it: 431 and close.
inline constexpr std::size_t kHttpHeadMax = std::size_t{8} * 1024;

enum class admin_protocol : uint8_t { undecided, q, http };

/// What a connection speaks, from its first bytes: "GET " / "HEAD " (or any request line
/// "METHOD target HTTP/1.x" ending in CRLF before a NUL) is HTTP; a NUL first (the end of a q
/// handshake) or anything else is q. undecided until enough bytes came.
admin_protocol admin_protocol_of(std::span<const uint8_t> in);

/// One request head. Views into the input: valid until it is consumed.
struct http_request {
    std::string_view method;
    std::string_view target;  ///< as sent (path and query)
    bool keep_alive = true;   ///< HTTP/1.1 unless "Connection: close"; 1.0 only with keep-alive
    bool has_body = false;    ///< Content-Length > 0 or Transfer-Encoding: not served
    std::size_t length = 0;   ///< bytes of the head, CRLF CRLF included
};

enum class http_parse : uint8_t { incomplete, ok, too_large, bad };

/// Parses the request head at the start of `in` (kHttpHeadMax bound).
http_parse parse_http_request(std::span<const uint8_t> in, http_request& out);

/// What a handler answers: status 200 and a body.
struct http_reply {
    int status = 200;
    std::string content_type;
    std::string body;
};

struct http_context {
    admin_model& model;  ///< what the pages show (qgate/admin_api.h)
    const admin_control* control = nullptr;  ///< the fleet's rows, when there is a fleet
};

using http_handler = http_reply (*)(const http_context& ctx);

struct http_route {
    std::string_view path;
    http_handler handler;
};

/// Every path the admin port serves over HTTP.
std::span<const http_route> http_routes();

/// The complete response to one request, and whether to close after it (the client asked, or
/// the request cannot be followed by another: a body, a bad method): 404 unknown path, 405
/// other methods (Allow: GET, HEAD), 400 a request with a body. HEAD gets GET's headers.
struct http_answer {
    std::string bytes;
    bool close = false;
};
http_answer http_respond(const http_request& req, const http_context& ctx);

/// A bare error response that closes the connection (400 bad request, 431 head too large).
std::string http_error(int status);

}  // namespace qgate::ctl
