// DESIGN: a TorQ process.csv as a backend file (issue 17). TorQ reads it with
// ("****";enlist",")0: and then evaluates each field: `{VAR}` is replaced from the environment
// (code/common/rmvr.q removeenvvar) and the port is q's `value` of the result ("{KDBBASEPORT}+1"
// -> 6001). We take the columns by their header names (host, port, proctype, procname; the
// rest — U, localtime, g, T, w, load, startwithall, extras, qcmd — start processes, which is
// not our job), skip rows with an empty host as TorQ does, and keep rows whose proctype is
// listed (every proctype but discovery when none is). A port must be digits joined by `+`:
// anything else in a kept row refuses the file with its line, where TorQ would quietly keep a
// null port. Pure apart from getenv; control plane only.
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "qgate/ctl.h"

namespace qgate::ctl {
namespace {

std::vector<std::string> split_csv(std::string_view line) {
    std::vector<std::string> out(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (c == '"' && quoted && i + 1 < line.size() && line[i + 1] == '"') {
            out.back() += '"';  // "" inside quotes
            ++i;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (c == ',' && !quoted) {
            out.emplace_back();
        } else {
            out.back() += c;
        }
    }
    return out;
}

// {VAR} -> its value (empty when unset, as q's getenv gives ""); false on unmatched braces.
bool expand_env(std::string_view in, std::string& out, const env_lookup& env) {
    out.clear();
    while (!in.empty()) {
        const std::size_t open = in.find('{');
        const std::size_t close = in.find('}');
        if (open == std::string_view::npos) {
            if (close != std::string_view::npos) return false;
            out += in;
            return true;
        }
        if (close == std::string_view::npos || close < open) return false;
        out += in.substr(0, open);
        const std::string name(in.substr(open + 1, close - open - 1));
        const char* v = env(name.c_str());
        if (v != nullptr) out += v;
        in.remove_prefix(close + 1);
    }
    return true;
}

// "6000+1", "5010", " 6000 + 12 ": a sum of decimal terms in 1..65535.
bool port_value(std::string_view text, uint16_t& out) {
    uint64_t sum = 0;
    while (true) {
        while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
        uint64_t term = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), term);
        if (ec != std::errc{} || term > 65535) return false;
        sum += term;
        text.remove_prefix(static_cast<std::size_t>(ptr - text.data()));
        while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
        if (text.empty()) break;
        if (text.front() != '+') return false;
        text.remove_prefix(1);
    }
    if (sum == 0 || sum > 65535) return false;
    out = static_cast<uint16_t>(sum);
    return true;
}

struct columns {
    int host = -1, port = -1, proctype = -1, procname = -1;
};

bool find_columns(const std::vector<std::string>& header, columns& c) {
    for (std::size_t i = 0; i < header.size(); ++i) {
        const std::string& h = header[i];
        const int at = static_cast<int>(i);
        if (h == "host") c.host = at;
        if (h == "port") c.port = at;
        if (h == "proctype") c.proctype = at;
        if (h == "procname") c.procname = at;
    }
    return c.host >= 0 && c.port >= 0 && c.proctype >= 0 && c.procname >= 0;
}

bool wanted(const process_csv_conf& pc, const std::string& proctype) {
    if (pc.proctypes.empty()) return proctype != "discovery";
    for (const std::string& p : pc.proctypes) {
        if (p == proctype) return true;
    }
    return false;
}

class csv_reader {
  public:
    csv_reader(const std::string& source, const process_csv_conf& pc, const env_lookup& env,
               std::vector<backend_conf>& out, std::string& error)
        : source_(source), pc_(pc), env_(env), out_(out), error_(error) {}

    bool read(std::string_view text) {
        uint32_t line_no = 0;
        bool header = true;
        while (!text.empty()) {
            const std::size_t nl = text.find('\n');
            std::string_view line = text.substr(0, nl);
            text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
            ++line_no;
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (line.empty()) continue;
            const std::vector<std::string> fields = split_csv(line);
            if (header) {
                if (!find_columns(fields, cols_)) {
                    return fail(line_no, "header must name host, port, proctype and procname");
                }
                header = false;
            } else if (!row(fields, line_no)) {
                return false;
            }
        }
        if (header) return fail(0, "no header line (host,port,proctype,procname,...)");
        return true;
    }

  private:
    bool fail(uint32_t line_no, const std::string& why) {
        error_ = source_ + ":" + std::to_string(line_no) + ": " + why;
        return false;
    }

    bool field(const std::vector<std::string>& f, int col, uint32_t line_no, std::string& out) {
        const std::string raw = static_cast<std::size_t>(col) < f.size() ? f[col] : "";
        if (expand_env(raw, out, env_)) return true;
        return fail(line_no, "unmatched braces in \"" + raw + "\"");
    }

    bool row(const std::vector<std::string>& f, uint32_t line_no) {
        std::string host, port, proctype, procname;
        if (!field(f, cols_.host, line_no, host) || !field(f, cols_.port, line_no, port) ||
            !field(f, cols_.proctype, line_no, proctype) ||
            !field(f, cols_.procname, line_no, procname)) {
            return false;
        }
        if (host.empty() || !wanted(pc_, proctype)) return true;  // TorQ: `not null host`
        backend_conf b;
        if (!port_value(port, b.addr.port)) {
            return fail(line_no, "port \"" + port + "\" is not a number or a sum (6000+1)");
        }
        if (procname.empty()) return fail(line_no, "empty procname");
        for (const backend_conf& o : out_) {
            if (o.name == procname) return fail(line_no, "procname " + procname + " repeats");
        }
        b.addr.host = host;
        b.name = procname;
        b.group = proctype;
        b.credentials = pc_.credentials;
        b.conns = pc_.conns;
        b.source = backend_source::process_csv;
        out_.push_back(std::move(b));
        return true;
    }

    const std::string& source_;
    const process_csv_conf& pc_;
    const env_lookup& env_;
    std::vector<backend_conf>& out_;
    std::string& error_;
    columns cols_;
};

}  // namespace

bool parse_process_csv(std::string_view text, const std::string& source,
                       const process_csv_conf& pc, const env_lookup& env,
                       std::vector<backend_conf>& out, std::string& error) {
    out.clear();
    return csv_reader(source, pc, env, out, error).read(text);
}

bool read_process_csv(const process_csv_conf& pc, std::vector<backend_conf>& out,
                      std::string& error) {
    std::ifstream in(pc.path, std::ios::binary);
    if (!in) {
        error = pc.path + ": cannot open";
        return false;
    }
    std::ostringstream text;
    text << in.rdbuf();
    const env_lookup env = [](const char* name) { return std::getenv(name); };  // NOLINT
    return parse_process_csv(text.str(), pc.path, pc, env, out, error);
}

}  // namespace qgate::ctl
