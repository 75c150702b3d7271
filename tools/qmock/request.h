// Turning a request body into a call (function name + encoded arguments) and running it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qgate/qipc/types.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"

namespace qmock {

class server;
struct conn;

/// What a function produced. `body` is the encoded reply value: a view into the request or
/// into `owned`. kind::none means "no response now" (async, or a deferred response).
struct reply {
    enum class kind : uint8_t { value, error, none };
    kind k = kind::none;
    std::span<const uint8_t> body;
    std::vector<uint8_t> owned;
    std::string error;

    void set_value(std::span<const uint8_t> b) { k = kind::value; body = b; }
    void set_owned(std::vector<uint8_t> b) {
        k = kind::value;
        owned = std::move(b);
        body = owned;
    }
    void set_value(const qgate::qipc::value& v);
    void set_error(std::string text) {
        k = kind::error;
        error = std::move(text);
    }
};

/// The context a function runs in: the server, the calling connection (.z.w) and the
/// message type of the request (sync or async).
struct call {
    server& srv;
    conn& c;
    qgate::qipc::msg_type type;
};

/// One argument: its complete little-endian encoding (type byte first).
using arg = std::span<const uint8_t>;

/// Runs the request in `body` (plain, little-endian) and fills `out`.
void run_request(call& ctx, std::span<const uint8_t> body, reply& out);

/// Calls the named function; unknown names give the q error `'name`.
/// counts[results]: a fan-out reducer's join (reducer.cc).
void fn_counts(call& ctx, std::span<const arg> args, reply& out);
/// value[x]: runs a char vector as q text, a general list as a call (reducer.cc).
void fn_value(call& ctx, std::span<const arg> args, reply& out);
/// .servers.getdetails[]: TorQ's (f;h;port;procname;proctype;attributes) (registrar.cc).
void fn_getdetails(call& ctx, std::span<const arg> args, reply& out);
void run_function(call& ctx, std::string_view name, std::span<const arg> args, reply& out);
/// True when run_function knows `name` (in this mode).
bool known_function(call& ctx, std::string_view name);

using qgate::qipc::encode_body;  // a value body (no header) in a fresh vector

/// The table getTrades[sym;n] returns (also used by the README's worked example).
qgate::qipc::value make_trades(std::string_view sym, int64_t n);

}  // namespace qmock
