// DESIGN: see register_call.h. The call is split into (name, arguments) by the admin port's
// parser (parse_admin_call: both the general-list and the text form), then the two arguments
// are read here. qgate evaluates no q text: the text form's arguments are literals only.
#include "ctl/register_call.h"

#include <optional>
#include <string_view>

#include "ctl/admin_query.h"
#include "qgate/ctl.h"

namespace qgate::ctl {
namespace {

namespace qtype = qipc::qtype;
using qipc::value;

constexpr std::size_t kNameMax = 128;  // a service name is a short symbol
constexpr const char* kUsage = "qgate: only registerResource[`name;`:host:port] here";
constexpr const char* kTwoArgs = "qgate: registerResource takes two arguments, [`name;`:host:port]";

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A symbol atom or a char vector, as text.
std::optional<std::string_view> text_of(const value& v) {
    if (v.type == -qtype::kSymbol && v.syms.size() == 1) return v.syms.front();
    if (v.type == qtype::kChar) {
        return std::string_view(reinterpret_cast<const char*>(v.raw.data()), v.raw.size());
    }
    return std::nullopt;
}

// One literal of the text form: `sym, "string" or bare text.
std::string_view literal(std::string_view t) {
    t = trim(t);
    if (!t.empty() && t.front() == '`') return t.substr(1);
    if (t.size() >= 2 && t.front() == '"' && t.back() == '"') return t.substr(1, t.size() - 2);
    return t;
}

// Echoed in an error: printable, and short.
std::string shown(std::string_view t) {
    constexpr std::size_t kShownMax = 160;
    std::string out(t.substr(0, kShownMax));
    for (char& c : out) {
        if (c < ' ' || c > '~') c = '?';
    }
    return out;
}

bool valid_name(std::string_view n) {
    if (n.empty() || n.size() > kNameMax) return false;
    for (const char c : n) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

bool read_args(std::string_view name, std::string_view address, register_request& out,
               std::string& error) {
    if (!valid_name(name)) {
        error = "qgate: registerResource: the name must be a symbol of letters, digits, _ . -";
        return false;
    }
    if (!address.empty() && address.front() == ':') address.remove_prefix(1);  // `:host:port
    std::string why;
    if (!parse_host_port(address, out.addr, why) || out.addr.port == 0) {
        error = "qgate: registerResource: bad address `:" + shown(address) + ": " +
                shown(why.empty() ? "port 0" : why);
        return false;
    }
    out.name = std::string(name);
    return true;
}

}  // namespace

bool parse_register_call(const value& msg, register_request& out, std::string& error) {
    // q makes a list of symbol atoms a symbol vector: the whitepaper's service sends
    // (`registerResource;`name;`:host:port) as `registerResource`name`:host:port.
    if (msg.type == qtype::kSymbol && !msg.syms.empty() && msg.syms[0] == kRegisterFunction) {
        if (msg.syms.size() == 3) return read_args(msg.syms[1], msg.syms[2], out, error);
        error = kTwoArgs;
        return false;
    }
    const std::optional<admin_call> call = parse_admin_call(msg);
    if (!call || call->name != kRegisterFunction) {
        error = kUsage;
        return false;
    }
    const admin_args& a = call->args;
    if (a.items.size() == 2) {
        const std::optional<std::string_view> name = text_of(a.items[0]);
        const std::optional<std::string_view> addr = text_of(a.items[1]);
        if (name && addr) return read_args(*name, *addr, out, error);
    } else if (a.items.empty() && !a.text.empty()) {
        const std::size_t semi = a.text.find(';');
        const bool two = semi != std::string_view::npos &&
                         a.text.find(';', semi + 1) == std::string_view::npos;
        if (two) {
            return read_args(literal(a.text.substr(0, semi)), literal(a.text.substr(semi + 1)),
                             out, error);
        }
    }
    error = kTwoArgs;
    return false;
}

std::string registered_name(const register_request& r) {
    return r.name + "@" + format_endpoint(r.addr);
}

}  // namespace qgate::ctl
