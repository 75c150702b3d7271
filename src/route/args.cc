// Argument access for routing keys and `.gw.*` server types: argument k of a classified call,
// the bytes to hash for it, and the symbol names of a servertypes argument. Data plane: walks
// only as far as argument k, never allocates.

#include <cstring>

#include "qgate/route/classify.h"
#include "route/text_scan.h"

namespace qgate::route {
namespace {

std::string_view bytes_text(std::span<const uint8_t> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// A q symbol literal "`AAPL" → "AAPL"; a string literal "\"AAPL\"" without escapes → "AAPL";
/// anything else unchanged. Makes string calls hash like the list form's atoms.
std::string_view literal_text(std::string_view t) {
    if (!t.empty() && t[0] == '`') {
        const std::string_view sym = t.substr(1);
        for (char c : sym) {
            if (!(text::is_ident_char(c) || c == ':' || c == '/')) return t;
        }
        return sym;
    }
    if (t.size() >= 2 && t.front() == '"' && t.back() == '"') {
        const std::string_view in = t.substr(1, t.size() - 2);
        if (in.find_first_of("\\\"") == std::string_view::npos) return in;
    }
    return t;
}

}  // namespace

bool call_arg(const call_info& call, uint32_t k, arg_view& out) {
    if (k == 0 || k > call.arg_count) return false;
    out = arg_view{};
    out.little_endian = call.little_endian;
    if (call.form == call_form::string) {
        out.is_text = true;
        return text::nth_part(call.args_text, k, out.text);
    }
    if (call.form != call_form::list) return false;
    const qipc::walker w(call.body, call.little_endian);
    qipc::child_cursor cur(w, call.object);
    for (uint32_t i = 0; i <= k; ++i) {
        if (!cur.next(out.object)) return false;
    }
    return true;
}

std::string_view hash_key(const arg_view& arg) {
    if (arg.is_text) return literal_text(text::trim(arg.text));
    const qipc::object_view& o = arg.object;
    if (o.type == -qipc::qtype::kSymbol) return qipc::symbol_text(o);
    if (o.type == qipc::qtype::kChar) return qipc::char_text(o);
    if (o.is_atom() && qipc::atom_size(o.type) > 0 && o.bytes.size() > 1) {
        return bytes_text(o.bytes.subspan(1));  // the value bytes, as sent
    }
    return bytes_text(o.bytes);
}

bool call_key(const call_info& call, uint32_t k, std::string_view& key) {
    arg_view a;
    if (!call_arg(call, k, a)) return false;
    key = hash_key(a);
    return true;
}

name_list::name_list(const arg_view& arg) {
    if (arg.is_text) {
        const std::string_view t = text::trim(arg.text);
        pos_ = t.data();
        end_ = t.data() + t.size();
        text_ = true;
        valid_ = t.find('`') != std::string_view::npos;
        return;
    }
    const qipc::object_view& o = arg.object;
    if (o.type == -qipc::qtype::kSymbol) {
        const std::string_view s = qipc::symbol_text(o);
        pos_ = s.data();
        end_ = s.data() + s.size() + 1;  // include the NUL, as in a vector
        left_ = 1;
        valid_ = true;
    } else if (o.type == qipc::qtype::kSymbol) {
        pos_ = reinterpret_cast<const char*>(qipc::vector_data(o));
        end_ = reinterpret_cast<const char*>(o.bytes.data() + o.bytes.size());
        left_ = o.count;
        valid_ = pos_ != nullptr;
    }
}

bool name_list::next(std::string_view& name) {
    if (!valid_) return false;
    if (!text_) {
        if (left_ == 0 || pos_ >= end_) return false;
        const auto* nul = static_cast<const char*>(std::memchr(pos_, 0, end_ - pos_));
        if (nul == nullptr) return false;  // cannot happen on a validated body
        name = std::string_view(pos_, nul - pos_);
        pos_ = nul + 1;
        --left_;
        return true;
    }
    // Text: every `name; blanks, `;`, `(` and `)` between them are ignored.
    while (pos_ < end_) {
        const char* tick = static_cast<const char*>(std::memchr(pos_, '`', end_ - pos_));
        if (tick == nullptr) break;
        const char* p = tick + 1;
        while (p < end_ && text::is_ident_char(*p)) ++p;
        pos_ = p;
        if (p > tick + 1) {
            name = std::string_view(tick + 1, p - tick - 1);
            return true;
        }
    }
    pos_ = end_;
    return false;
}

}  // namespace qgate::route
