// What the registration listener understands (register.cc): the KX whitepaper's
// registerResource[name;address], in the forms q clients send it. Separate from the socket
// loop so that it is tested on decoded values alone.
#pragma once

#include <string>

#include "qgate/config.h"
#include "qgate/qipc/value.h"

namespace qgate::ctl {

inline constexpr std::string_view kRegisterFunction = "registerResource";

/// One registration: the service's name (its group) and the address it serves on.
struct register_request {
    std::string name;
    endpoint addr;
};

/// Parses a decoded message. Accepted: the symbol vector `registerResource`name`:host:port (what
/// q sends for the whitepaper's (`registerResource;`name;`:host:port)), the general list of the
/// same (name and address each a symbol or a string; the address's leading ':' optional), and
/// the text "registerResource[`name;`:host:port]" (each argument a `symbol, a "string" or bare).
/// False: `error` is the q error to answer ("qgate: ...", without the quote).
bool parse_register_call(const qipc::value& msg, register_request& out, std::string& error);

/// "name@host:port": the backend's name, unique per service instance.
std::string registered_name(const register_request& r);

}  // namespace qgate::ctl
