// Symbol-name arguments (sub_call.h): the small q-text grammar for symbol lists, and
// allocation-free iteration over every binary and text form. Pure functions, any thread.
//
// Text grammar (blanks around tokens are ignored):
//   names  := "`symbol$()" | "()" | "enlist" ticks | "(" ticks (";" ticks)* ")" | ticks
//   ticks  := ("`" symchar*)+            e.g. ` (one null name), `a, `a`b
// Each tick starts one name, so "`a`b" is two names and "`" alone is the null symbol.

#include <cstring>

#include "pubsub/text.h"
#include "qgate/pubsub/sub_call.h"

namespace qgate::pubsub {
namespace text {

size_t match_close(std::string_view s, size_t open) {
    int depth = 0;
    for (size_t i = open; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '(' || c == '[' || c == '{') ++depth;
        if ((c == ')' || c == ']' || c == '}') && --depth == 0) return i;
    }
    return std::string_view::npos;
}

namespace {
/// Calls on_sep(pos) for every top-level `;` until it returns false.
template <class F>
void each_separator(std::string_view s, F&& on_sep) {
    int depth = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '(' || c == '[' || c == '{') ++depth;
        if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
        if (c == ';' && depth == 0 && !on_sep(i)) return;
    }
}
}  // namespace

uint32_t count_parts(std::string_view s) {
    if (trim(s).empty()) return 0;
    uint32_t n = 1;
    each_separator(s, [&n](size_t) { return ++n, true; });
    return n;
}

bool nth_part(std::string_view s, uint32_t k, std::string_view& out) {
    if (k == 0 || trim(s).empty()) return false;
    uint32_t part = 1;
    size_t begin = 0, end = s.size();
    each_separator(s, [&](size_t pos) {
        if (part == k) return end = pos, false;
        ++part;
        begin = pos + 1;
        return true;
    });
    if (part != k) return false;
    out = trim(s.substr(begin, end - begin));
    return true;
}

}  // namespace text

namespace {

/// Counts the names of a run of ticks ("`a`b"); false when it is not exactly that.
bool tick_run(std::string_view t, uint32_t& count) {
    t = text::trim(t);
    if (t.empty() || t.front() != '`') return false;
    for (char c : t) {
        if (c == '`') ++count;
        else if (!text::is_sym_char(c)) return false;
    }
    return true;
}

}  // namespace

bool valid_name_text(std::string_view t, uint32_t& count) {
    t = text::trim(t);
    count = 0;
    if (t == "`symbol$()" || t == "()") return true;
    if (t.substr(0, 6) == "enlist") return tick_run(t.substr(6), count);
    if (!t.empty() && t.front() == '(') {
        if (text::match_close(t, 0) != t.size() - 1) return false;
        const std::string_view inner = t.substr(1, t.size() - 2);
        const uint32_t parts = text::count_parts(inner);
        for (uint32_t k = 1; k <= parts; ++k) {
            std::string_view part;
            if (!text::nth_part(inner, k, part) || !tick_run(part, count)) return false;
        }
        return parts > 0;
    }
    return tick_run(t, count);
}

uint32_t name_args::count() const {
    switch (k) {
    case kind::sym_atom:
    case kind::chars: return 1;
    case kind::sym_vector:
    case kind::sym_list: return static_cast<uint32_t>(object.count);
    case kind::text: {
        uint32_t n = 0;
        return valid_name_text(text, n) ? n : 0;
    }
    case kind::none: break;
    }
    return 0;
}

name_iter::name_iter(const name_args& a)
    : a_(&a), w_(a.object.bytes, a.little_endian), cur_(w_, qipc::object_view{}) {
    using k = name_args::kind;
    if (a.k == k::sym_list) {
        // The cursor addresses children by offset in the walked span: rebase to the object.
        qipc::object_view self = a.object;
        self.offset = 0;
        cur_ = qipc::child_cursor(w_, self);
    } else if (a.k == k::sym_vector) {
        const uint8_t* d = qipc::vector_data(a.object);
        pos_ = reinterpret_cast<const char*>(d);
        end_ = reinterpret_cast<const char*>(a.object.bytes.data() + a.object.bytes.size());
        left_ = d == nullptr ? 0 : a.object.count;
    } else if (a.k == k::sym_atom || a.k == k::chars) {
        left_ = 1;
    } else if (a.k == k::text && a.text != "`symbol$()") {
        pos_ = a.text.data();
        end_ = a.text.data() + a.text.size();
    }
}

bool name_iter::next(std::string_view& name) {
    using k = name_args::kind;
    qipc::object_view item;
    switch (a_->k) {
    case k::sym_atom:
    case k::chars:
        if (left_ == 0) return false;
        left_ = 0;
        name = a_->k == k::chars ? a_->text : qipc::symbol_text(a_->object);
        return true;
    case k::sym_list:
        if (!cur_.next(item)) return false;
        name = item.type == qipc::qtype::kChar ? qipc::char_text(item) : qipc::symbol_text(item);
        return true;
    case k::sym_vector: {
        if (left_ == 0) return false;
        const auto* nul = static_cast<const char*>(std::memchr(pos_, 0, size_t(end_ - pos_)));
        if (nul == nullptr) return false;  // cannot happen on a validated body
        name = std::string_view(pos_, size_t(nul - pos_));
        pos_ = nul + 1;
        --left_;
        return true;
    }
    case k::text: {
        const void* found =
            pos_ == nullptr ? nullptr : std::memchr(pos_, '`', size_t(end_ - pos_));
        const char* tick = static_cast<const char*>(found);
        if (tick == nullptr) return false;
        const char* p = tick + 1;
        while (p < end_ && text::is_sym_char(*p)) ++p;
        name = std::string_view(tick + 1, size_t(p - tick - 1));
        pos_ = p;
        return true;
    }
    case k::none: break;
    }
    return false;
}

std::vector<std::string> to_strings(const name_args& a) {
    std::vector<std::string> out;
    out.reserve(a.count());
    name_iter it(a);
    for (std::string_view n; it.next(n);) out.emplace_back(n);
    return out;
}

}  // namespace qgate::pubsub
