// The qipc subcommands: decode, encode, compress, decompress, check.
//
// Design note: a thin layer over the codec's public API (frame.h, walker.h, value.h, writer.h,
// compress.h, display.h); all validation lives in check_frame so `check` and `decode` agree.
// Output goes to stdout (hex, text, or raw bytes with --binary), diagnostics to stderr.

#include "commands.h"

#include <cstdio>
#include <iostream>
#include <optional>

#include "frame_check.h"
#include "hex.h"
#include "qgate/qipc/compress.h"
#include "qgate/qipc/display.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"

namespace qgate::tools {

namespace {

struct options {
    bool binary = false;
    bool compress = false;
    bool show = false;
    qipc::msg_type type = qipc::msg_type::async;
    std::vector<std::string> rest;  // positional arguments
};

std::optional<options> parse_options(const args& a, const std::string& allowed) {
    options o;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const std::string& s = a[i];
        const auto flag = [&](const char* name) {
            return s == name && allowed.find(name) != std::string::npos;
        };
        if (flag("--binary")) {
            o.binary = true;
        } else if (flag("--compress")) {
            o.compress = true;
        } else if (flag("--show")) {
            o.show = true;
        } else if (flag("--type") && i + 1 < a.size()) {
            const std::string& t = a[++i];
            if (t == "async")
                o.type = qipc::msg_type::async;
            else if (t == "sync")
                o.type = qipc::msg_type::sync;
            else if (t == "response")
                o.type = qipc::msg_type::response;
            else
                return usage_error("--type must be async, sync or response"), std::nullopt;
        } else if (s.size() > 1 && s[0] == '-' && s[1] == '-') {
            return usage_error("unknown option " + s), std::nullopt;
        } else {
            o.rest.push_back(s);
        }
    }
    return o;
}

const char* type_name(int t) {
    static const char* kNames[] = {"list",     "boolean",  "guid",      "?",      "byte",
                                   "short",    "int",      "long",      "real",   "float",
                                   "char",     "symbol",   "timestamp", "month",  "date",
                                   "datetime", "timespan", "minute",    "second", "time"};
    const int a = t < 0 ? -t : t;
    if (t == -128) return "error";
    if (a <= 19) return kNames[a];
    switch (t) {
        case 98: return "table";
        case 99: return "dict";
        case 100: return "lambda";
        case 101: return "unary primitive";
        case 102: return "binary primitive";
        case 103: return "iterator";
        case 104: return "projection";
        case 105: return "composition";
        case 127: return "sorted dict";
        default: return t >= 106 && t <= 111 ? "adverb form" : "?";
    }
}

const char* msg_type_name(qipc::msg_type t) {
    return t == qipc::msg_type::sync       ? "sync"
           : t == qipc::msg_type::response ? "response"
                                           : "async";
}

void write_bytes(std::span<const uint8_t> b, bool binary) {
    if (binary) {
        std::fwrite(b.data(), 1, b.size(), stdout);
    } else {
        std::cout << to_hex(b) << "\n";
    }
}

// Reads and validates one frame from the command line; prints the problem when it fails.
std::optional<checked_frame> load_frame(const options& o) {
    if (o.rest.size() > 1) return usage_error("expected one HEX argument"), std::nullopt;
    std::vector<uint8_t> bytes;
    std::string error;
    if (!read_frame(o.rest.empty() ? "-" : o.rest[0], o.binary, bytes, error)) {
        std::cerr << "qipc: " << error << "\n";
        return std::nullopt;
    }
    checked_frame f;
    if (!check_frame(bytes, f, error)) {
        std::cerr << "qipc: " << error << "\n";
        return std::nullopt;
    }
    return f;
}

}  // namespace

int cmd_decode(const args& a) {
    const auto o = parse_options(a, "--binary --show");
    if (!o) return 2;
    const auto f = load_frame(*o);
    if (!f) return 1;
    const auto& h = f->header;
    std::cout << "header: " << (h.little_endian ? "little-endian " : "big-endian ")
              << msg_type_name(h.type) << ", " << h.length << " bytes";
    if (h.compressed) std::cout << ", compressed (" << f->plain.size() << " bytes uncompressed)";
    qipc::value v;
    const qipc::status st = qipc::decode(
        std::span<const uint8_t>(f->plain).subspan(qipc::kHeaderSize), h.little_endian, v);
    if (!st) {  // check_frame walked it already; a failure here is a codec bug
        std::cout << "\nqipc: " << qipc::errc_name(st.code) << " at body byte " << st.offset
                  << "\n";
        return 1;
    }
    std::cout << "\nvalue: type " << int(v.type) << " (" << type_name(v.type) << "), count "
              << v.count() << "\n";
    std::cout << (o->show ? qipc::show(v) : qipc::display(v)) << "\n";
    return 0;
}

int cmd_encode(const args& a) {
    const auto o = parse_options(a, "--binary --compress --type");
    if (!o) return 2;
    if (o->rest.empty()) return usage_error("encode needs a q literal");
    std::string text;
    for (const auto& s : o->rest) text += (text.empty() ? "" : " ") + s;
    if (text == "-") text = read_stdin();
    qipc::value v;
    std::string error;
    const qipc::status parsed = qipc::parse_literal(text, v, &error);
    if (!parsed) {
        const std::size_t pos = std::min<std::size_t>(parsed.offset, text.size());
        std::cerr << "qipc: " << error << "\n  " << text << "\n  " << std::string(pos, ' ')
                  << "^\n";
        return 1;
    }
    std::vector<uint8_t> msg = qipc::encode_message(v, o->type);
    if (o->compress) {
        std::vector<uint8_t> out(msg.size() / 2 + 1);
        const uint64_t n = qipc::compress(msg, out);
        if (n == 0) {
            std::cerr << "qipc: not compressed (q sends this uncompressed: " << msg.size()
                      << " bytes, needs > " << qipc::kCompressThreshold
                      << " and a result under half)\n";
        } else {
            out.resize(n);
            msg = std::move(out);
        }
    }
    write_bytes(msg, o->binary);
    return 0;
}

int cmd_compress(const args& a) {
    const auto o = parse_options(a, "--binary");
    if (!o) return 2;
    const auto f = load_frame(*o);
    if (!f) return 1;
    if (f->header.compressed) {
        std::cerr << "qipc: the frame is already compressed\n";
        return 1;
    }
    std::vector<uint8_t> out(f->plain.size() / 2 + 1);
    const uint64_t n = qipc::compress(f->plain, out);
    if (n == 0) {
        std::cerr << "qipc: not compressed (q sends this uncompressed: " << f->plain.size()
                  << " bytes, needs > " << qipc::kCompressThreshold
                  << " and a result under half)\n";
        write_bytes(f->plain, o->binary);
        return 0;
    }
    out.resize(n);
    write_bytes(out, o->binary);
    return 0;
}

int cmd_decompress(const args& a) {
    const auto o = parse_options(a, "--binary");
    if (!o) return 2;
    const auto f = load_frame(*o);
    if (!f) return 1;
    if (!f->header.compressed) {
        std::cerr << "qipc: the frame is not compressed\n";
        return 1;
    }
    write_bytes(f->plain, o->binary);
    return 0;
}

int cmd_check(const args& a) {
    const auto o = parse_options(a, "--binary");
    if (!o) return 2;
    if (o->rest.size() > 1) return usage_error("expected one HEX argument");
    std::vector<uint8_t> bytes;
    std::string error;
    if (!read_frame(o->rest.empty() ? "-" : o->rest[0], o->binary, bytes, error)) {
        std::cout << error << "\n";
        return 1;
    }
    checked_frame f;
    if (!check_frame(bytes, f, error)) {
        std::cout << error << "\n";
        return 1;
    }
    std::cout << "ok\n";
    return 0;
}

}  // namespace qgate::tools
