// DESIGN: see fleet_json.h. A recursive-descent parser over a string_view with a depth bound;
// \u escapes are decoded to UTF-8 (surrogate pairs joined), numbers checked for JSON's shape.
#include "ctl/fleet_json.h"

#include <array>
#include <charconv>

namespace qgate::ctl::fleet {
namespace {

constexpr int kDepthMax = 64;

class parser {
  public:
    explicit parser(std::string_view t) : t_(t) {}

    bool document(json& out, std::string& error) {
        if (!value(out, 0)) {
            error = why_.empty() ? "malformed JSON" : why_;
            error += " at byte " + std::to_string(i_);
            return false;
        }
        blanks();
        if (i_ != t_.size()) {
            error = "text after the JSON value at byte " + std::to_string(i_);
            return false;
        }
        return true;
    }

  private:
    bool fail(const char* why) {
        if (why_.empty()) why_ = why;
        return false;
    }
    void blanks() {
        while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' ||
                                  t_[i_] == '\r')) {
            ++i_;
        }
    }
    bool word(std::string_view w) {
        if (t_.substr(i_, w.size()) != w) return fail("unknown word");
        i_ += w.size();
        return true;
    }
    bool value(json& out, int depth) {
        if (depth > kDepthMax) return fail("nested too deep");
        blanks();
        if (i_ >= t_.size()) return fail("unexpected end");
        const char c = t_[i_];
        if (c == '{') return object(out, depth);
        if (c == '[') return array(out, depth);
        if (c == '"') {
            out.k = json::kind::string;
            return string(out.text);
        }
        if (c == 't' || c == 'f') {
            out.k = json::kind::boolean;
            out.b = c == 't';
            return word(c == 't' ? "true" : "false");
        }
        if (c == 'n') return word("null");
        return number(out);
    }
    bool object(json& out, int depth) {
        out.k = json::kind::object;
        ++i_;
        blanks();
        if (i_ < t_.size() && t_[i_] == '}') return ++i_, true;
        for (;;) {
            blanks();
            std::string name;
            if (i_ >= t_.size() || t_[i_] != '"' || !string(name)) return fail("expected a name");
            blanks();
            if (i_ >= t_.size() || t_[i_] != ':') return fail("expected ':'");
            ++i_;
            if (!value(out.fields[name], depth + 1)) return false;
            blanks();
            if (i_ < t_.size() && t_[i_] == ',') {
                ++i_;
                continue;
            }
            if (i_ < t_.size() && t_[i_] == '}') return ++i_, true;
            return fail("expected ',' or '}'");
        }
    }
    bool array(json& out, int depth) {
        out.k = json::kind::array;
        ++i_;
        blanks();
        if (i_ < t_.size() && t_[i_] == ']') return ++i_, true;
        for (;;) {
            out.items.emplace_back();
            if (!value(out.items.back(), depth + 1)) return false;
            blanks();
            if (i_ < t_.size() && t_[i_] == ',') {
                ++i_;
                continue;
            }
            if (i_ < t_.size() && t_[i_] == ']') return ++i_, true;
            return fail("expected ',' or ']'");
        }
    }
    bool digits() {
        const std::size_t start = i_;
        while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') ++i_;
        return i_ > start;
    }
    bool number(json& out) {
        const std::size_t start = i_;
        if (i_ < t_.size() && t_[i_] == '-') ++i_;
        if (!digits()) return fail("unexpected character");
        if (i_ < t_.size() && t_[i_] == '.') {
            ++i_;
            if (!digits()) return fail("bad number");
        }
        if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
            ++i_;
            if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-')) ++i_;
            if (!digits()) return fail("bad number");
        }
        out.k = json::kind::number;
        out.text = std::string(t_.substr(start, i_ - start));
        return true;
    }
    bool hex4(uint32_t& cp) {
        if (i_ + 4 > t_.size()) return fail("short \\u escape");
        const auto r = std::from_chars(t_.data() + i_, t_.data() + i_ + 4, cp, 16);
        if (r.ptr != t_.data() + i_ + 4) return fail("bad \\u escape");
        i_ += 4;
        return true;
    }
    static void utf8(uint32_t cp, std::string& out) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    bool escape(std::string& out) {
        if (i_ >= t_.size()) return fail("unterminated string");
        const char e = t_[i_++];
        switch (e) {
        case '"': out += '"'; return true;
        case '\\': out += '\\'; return true;
        case '/': out += '/'; return true;
        case 'b': out += '\b'; return true;
        case 'f': out += '\f'; return true;
        case 'n': out += '\n'; return true;
        case 'r': out += '\r'; return true;
        case 't': out += '\t'; return true;
        case 'u': break;
        default: return fail("bad escape");
        }
        uint32_t cp = 0;
        if (!hex4(cp)) return false;
        if (cp >= 0xD800 && cp < 0xDC00) {  // a high surrogate: its low half must follow
            uint32_t lo = 0;
            if (t_.substr(i_, 2) != "\\u") return fail("lone surrogate");
            i_ += 2;
            if (!hex4(lo) || lo < 0xDC00 || lo >= 0xE000) return fail("lone surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
            return fail("lone surrogate");
        }
        utf8(cp, out);
        return true;
    }
    bool string(std::string& out) {
        ++i_;  // the opening quote
        while (i_ < t_.size()) {
            const char c = t_[i_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
            if (c != '\\') {
                out += c;
            } else if (!escape(out)) {
                return false;
            }
        }
        return fail("unterminated string");
    }

    std::string_view t_;
    std::size_t i_ = 0;
    std::string why_;
};

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
    const std::size_t p = kAlphabet.find(c);
    return p == std::string_view::npos ? -1 : static_cast<int>(p);
}

}  // namespace

const json* json::get(std::string_view name) const {
    if (k != kind::object) return nullptr;
    const auto it = fields.find(std::string(name));
    return it == fields.end() ? nullptr : &it->second;
}

std::string json::str(std::string_view name, std::string_view def) const {
    const json* f = get(name);
    if (f == nullptr || (f->k != kind::string && f->k != kind::number)) return std::string(def);
    return f->text;
}

int64_t json::int_of(std::string_view name, int64_t def) const {
    const json* f = get(name);
    if (f == nullptr || (f->k != kind::string && f->k != kind::number)) return def;
    int64_t v = 0;
    const char* end = f->text.data() + f->text.size();
    const auto r = std::from_chars(f->text.data(), end, v);
    return r.ec == std::errc{} && r.ptr == end ? v : def;
}

std::optional<json> parse_json(std::string_view text, std::string& error) {
    json out;
    parser p(text);
    if (!p.document(out, error)) return std::nullopt;
    return out;
}

std::string quote(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            std::array<char, 8> buf{};
            const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), u, 16);
            out += "\\u00";
            if (r.ptr - buf.data() == 1) out += '0';
            out.append(buf.data(), r.ptr);
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string base64_encode(std::string_view raw) {
    std::string out;
    out.reserve((raw.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= raw.size(); i += 3) {
        const uint32_t n = (uint32_t(uint8_t(raw[i])) << 16) |
                           (uint32_t(uint8_t(raw[i + 1])) << 8) | uint8_t(raw[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(n >> s) & 63];
    }
    const std::size_t left = raw.size() - i;
    if (left > 0) {
        uint32_t n = uint32_t(uint8_t(raw[i])) << 16;
        if (left == 2) n |= uint32_t(uint8_t(raw[i + 1])) << 8;
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += left == 2 ? kAlphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
        if (pad == 1 && text[i + 2] == '=') return std::nullopt;  // "x=y=" is not base64
        uint32_t n = 0;
        for (int j = 0; j < 4 - pad; ++j) {
            const int s = sextet(text[i + j]);
            if (s < 0) return std::nullopt;
            n |= uint32_t(s) << (18 - 6 * j);
        }
        out += static_cast<char>(n >> 16);
        if (pad < 2) out += static_cast<char>((n >> 8) & 0xFF);
        if (pad < 1) out += static_cast<char>(n & 0xFF);
    }
    return out;
}

std::string prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        if (static_cast<unsigned char>(end.back()) < 0xFF) {
            end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');  // etcd: "\0" as range_end means every key
}

}  // namespace qgate::ctl::fleet
