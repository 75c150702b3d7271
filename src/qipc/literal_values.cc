// parse_literal, building values (see literal_internal.h): q's list collapse, take (n#x,
// cycling), tables from columns (atoms broadcast), and the dyads and monads the literal syntax
// allows: enlist (,), flip (+), casts ($: `$, "G"$, `type$()), take and attributes (#), and
// dict (!). Each follows q's result for the cases the grammar accepts and refuses the rest
// with a parse_failure at the operator.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "literal_internal.h"

namespace qgate::qipc::literal {

namespace {

const char* const kTypeNames[] = {"",         "boolean",  "guid",      "",       "byte",
                                  "short",    "int",      "long",      "real",   "float",
                                  "char",     "symbol",   "timestamp", "month",  "date",
                                  "datetime", "timespan", "minute",    "second", "time"};

bool parse_guid(std::string_view s, std::vector<uint8_t>& out) {
    if (s.size() != 36) return false;
    const auto hex = [](char c) {
        return is_digit(c)              ? c - '0'
               : (c >= 'a' && c <= 'f') ? c - 'a' + 10
               : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                        : -1;
    };
    for (std::size_t i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i++] != '-') return false;
            continue;
        }
        const int hi = hex(s[i]), lo = hex(s[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(uint8_t(hi * 16 + lo));
        i += 2;
    }
    return true;
}


value cast(const value& l, const value& r, std::size_t pos) {
    if (l.type == -qtype::kChar && l.raw[0] == 'G') {  // "G"$"8c680a01-..."
        std::vector<uint8_t> raw;
        const auto one = [&](const value& s) {
            const std::string text(s.raw.begin(), s.raw.end());
            if (s.type != qtype::kChar || !parse_guid(text, raw))
                throw parse_failure{
                    pos, "\"G\"$ needs a guid string like 8c680a01-5a49-5aab-5a65-d4bfddb6a661"};
        };
        if (r.type == qtype::kChar)
            one(r);
        else if (r.type == qtype::kList)
            for (const auto& x : r.items) one(x);
        else
            throw parse_failure{pos, "\"G\"$ needs a string or a list of strings"};
        return value::fixed(r.type == qtype::kChar ? -qtype::kGuid : qtype::kGuid, std::move(raw));
    }
    if (l.type != -qtype::kSymbol) throw parse_failure{pos, "unsupported cast"};
    const std::string& name = l.syms[0];
    if (name.empty()) {  // `$"a b" and `$("a";"b c")
        const auto text = [&](const value& s) {
            if (s.type == qtype::kChar || s.type == -qtype::kChar)
                return std::string(s.raw.begin(), s.raw.end());
            throw parse_failure{pos, "`$ needs a string or a list of strings"};
        };
        if (r.type != qtype::kList) return value::symbol(text(r));
        std::vector<std::string> syms;
        for (const auto& x : r.items) syms.push_back(text(x));
        return value::symbols(std::move(syms));
    }
    for (int t = 1; t <= 19; ++t) {
        if (name == kTypeNames[t] && r.type == qtype::kList && r.items.empty()) {
            if (t == qtype::kSymbol) return value::symbols({});
            return value::fixed(int8_t(t), {});
        }
    }
    throw parse_failure{pos, "only `type$() (an empty typed list) is supported"};
}

value hash(const value& l, const value& r, std::size_t pos) {
    if (l.type == -qtype::kSymbol) {  // attributes `s# `u# `p# `g#
        static const std::string kAttrs = " supg";
        const std::size_t a = l.syms[0].size() == 1 ? kAttrs.find(l.syms[0][0]) : std::string::npos;
        if (a == std::string::npos || a == 0) throw parse_failure{pos, "unknown attribute"};
        value out = r;
        if (r.type == qtype::kDict && a == 1) {  // as q: the keys (or the key table) get `s#
            out.type = qtype::kSortedDict;
            out.items[0].attr = 1;
        } else if (r.type == qtype::kTable && a == 1) {  // q marks the first column `p#
            out.attr = 1;
            auto& cols = out.items.at(0).items.at(1).items;
            if (!cols.empty()) cols[0].attr = 3;
        } else if ((r.type >= 0 && r.type <= 19) || r.type == qtype::kTable) {
            out.attr = uint8_t(a);
        } else {
            throw parse_failure{pos, "attributes apply to lists, tables and dicts"};
        }
        return out;
    }
    int64_t n = 0;
    if (l.type == -qtype::kLong)
        std::memcpy(&n, l.raw.data(), 8);
    else if (l.type == -qtype::kInt)
        n = int32_t(l.raw[0] | l.raw[1] << 8 | l.raw[2] << 16 | l.raw[3] << 24);
    else
        throw parse_failure{pos, "# needs a count (or an attribute) on its left"};
    if (n > 10'000'000 || n < -10'000'000) throw parse_failure{pos, "take count too large"};
    if (!is_atom(r) && !(r.type >= 0 && r.type <= 19) && r.type != qtype::kTable) {
        throw parse_failure{pos, "# takes from an atom, a list or a table"};
    }
    if (length_of(r) == 0 && !is_atom(r) && n) throw parse_failure{pos, "take from an empty list"};
    return take_items(r, n);
}

}  // namespace

bool is_atom(const value& v) { return v.type < 0 && v.type != qtype::kError; }

uint64_t length_of(const value& v) {
    if (v.type == qtype::kSymbol) return v.syms.size();
    if (v.type >= 1 && v.type <= 19) return v.raw.size() / uint64_t(elem_size(v.type));
    if (v.type == qtype::kList) return v.items.size();
    return v.count();
}

namespace {

// Row i of a table as a dict of its cells.
value row_at(const value& table, uint64_t i) {
    const value& d = table.items.at(0);
    std::vector<value> cells;
    for (const auto& col : d.items.at(1).items) cells.push_back(item_at(col, i));
    value row = value::list(std::move(cells));
    return value::dict(d.items[0], std::move(row));
}

}  // namespace

// Item i of a vector, list or table row (tables: a dict of the row), as q's x@i.
value item_at(const value& v, uint64_t i) {
    if (v.type == qtype::kSymbol) return value::symbol(v.syms.at(i));
    if (v.type >= 1 && v.type <= 19) {
        const std::size_t w = std::size_t(elem_size(v.type));
        return value::fixed(int8_t(-v.type),
                            {v.raw.begin() + long(i * w), v.raw.begin() + long((i + 1) * w)});
    }
    if (v.type == qtype::kTable) return row_at(v, i);
    return v.items.at(i);
}

// Joins atoms of one type into a vector (q's list collapse); nullopt when they differ.
std::optional<value> collapse(const std::vector<value>& items) {
    if (items.empty() || !is_atom(items[0])) return std::nullopt;
    const int8_t t = items[0].type;
    for (const auto& x : items) {
        if (x.type != t) return std::nullopt;
    }
    if (t == -qtype::kSymbol) {
        std::vector<std::string> s;
        s.reserve(items.size());
        for (const auto& x : items) s.push_back(x.syms.at(0));
        return value::symbols(std::move(s));
    }
    std::vector<uint8_t> raw;
    for (const auto& x : items) raw.insert(raw.end(), x.raw.begin(), x.raw.end());
    return value::fixed(int8_t(-t), std::move(raw));
}

// n#v: the first n items (the last -n when negative), cycling as q does; tables take rows
// column by column.
value take_items(const value& v, int64_t n) {
    if (v.type == qtype::kTable) {
        const value& d = v.items.at(0);
        std::vector<value> cols;
        for (const auto& col : d.items.at(1).items) cols.push_back(take_items(col, n));
        return value::table(d.items[0].syms, std::move(cols));
    }
    const uint64_t len = is_atom(v) ? 1 : length_of(v);
    const uint64_t k = len ? uint64_t(n < 0 ? -n : n) : 0;
    const auto index = [&](uint64_t j) { return n >= 0 ? j % len : (len - k % len + j) % len; };
    const int t = v.type < 0 ? -v.type : v.type;
    if (t == qtype::kSymbol) {
        std::vector<std::string> syms;
        for (uint64_t j = 0; j < k; ++j) syms.push_back(v.syms.at(is_atom(v) ? 0 : index(j)));
        return value::symbols(std::move(syms));
    }
    if (t >= 1 && t <= 19) {  // element bytes copied directly: no value per item
        const std::size_t w = std::size_t(elem_size(t));
        std::vector<uint8_t> raw;
        raw.reserve(k * w);
        for (uint64_t j = 0; j < k; ++j) {
            const auto from = v.raw.begin() + long((is_atom(v) ? 0 : index(j)) * w);
            raw.insert(raw.end(), from, from + long(w));
        }
        return value::fixed(int8_t(t), std::move(raw));
    }
    std::vector<value> items;
    for (uint64_t j = 0; j < k; ++j) items.push_back(v.items.at(index(j)));
    return value::list(std::move(items));
}

// ([k:..] c:..; d:..): atoms broadcast to the length of the other columns, as in q.
value make_table(std::vector<std::pair<std::string, value>> cols, std::size_t pos) {
    uint64_t n = 0;
    bool any_list = false;
    for (const auto& [name, v] : cols) {
        if (is_atom(v)) continue;
        if (!(v.type >= 0 && v.type <= 19))
            throw parse_failure{pos, "column " + name + " is not a list"};
        if (any_list && length_of(v) != n)
            throw parse_failure{pos, "length: columns differ in length"};
        n = length_of(v);
        any_list = true;
    }
    std::vector<std::string> names;
    std::vector<value> values;
    for (auto& col : cols) {  // consumes cols: list columns are moved, not copied
        names.push_back(col.first);
        const value& v = col.second;
        values.push_back(is_atom(v) ? take_items(v, int64_t(any_list ? n : 1))
                                    : std::move(col.second));
    }
    return value::table(std::move(names), std::move(values));
}

value dyad(value left, char op, value right, std::size_t pos) {
    if (op == ',') {  // enlist
        if (is_atom(right)) {
            if (right.type == -qtype::kSymbol) return value::symbols(std::move(right.syms));
            return value::fixed(int8_t(-right.type), std::move(right.raw));
        }
        const bool row = right.type == qtype::kDict && right.items[0].type == qtype::kSymbol &&
                         (right.items[1].type == qtype::kList ||
                          (right.items[1].type >= 1 && right.items[1].type <= 19));
        if (!row) return value::list({std::move(right)});
        std::vector<value> cols;  // enlist of a symbol-keyed dict is a one-row table, as in q
        for (uint64_t k = 0; k < length_of(right.items[1]); ++k) {
            value x = item_at(right.items[1], k);
            cols.push_back(is_atom(x) ? dyad(value::generic_null(), ',', std::move(x), pos)
                                      : value::list({std::move(x)}));
        }
        return value::table(right.items[0].syms, std::move(cols));
    }
    if (op == '+') {  // flip
        if (right.type == qtype::kTable) return std::move(right.items[0]);
        if (right.type != qtype::kDict || right.items[0].type != qtype::kSymbol ||
            right.items[1].type != qtype::kList)
            throw parse_failure{pos, "flip needs a dict of symbols to a list of columns"};
        std::vector<std::pair<std::string, value>> cols;
        for (std::size_t k = 0; k < right.items[0].syms.size(); ++k)
            cols.emplace_back(right.items[0].syms[k], std::move(right.items[1].items[k]));
        return make_table(std::move(cols), pos);
    }
    if (op == '$') return cast(left, right, pos);
    if (op == '#') return hash(left, right, pos);
    const bool listy = [&] {  // '!'
        const auto ok = [](const value& x) {
            return (x.type >= 0 && x.type <= 19) || x.type == qtype::kTable;
        };
        return ok(left) && ok(right);
    }();
    if (!listy) throw parse_failure{pos, "! needs lists (or tables) on both sides"};
    if (length_of(left) != length_of(right))
        throw parse_failure{pos, "length: keys and values differ"};
    return value::dict(std::move(left), std::move(right));
}


}  // namespace qgate::qipc::literal
