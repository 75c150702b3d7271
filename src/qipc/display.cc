// Rendering q values as text: display() = the q console's layout, show() = a one-line q
// expression (like -3!) that parse_literal (literal.cc) and q itself read back.
//
// Design note: control-plane only (the qipc tool, error messages, the admin interface); it
// allocates freely and never runs on the data plane. One renderer walks the value tree; the
// mode decides the three differences between the two outputs:
//  * floats: display uses q's default 7 significant digits (\P 7), show the shortest text that
//    reads back to the same double, so show() round-trips;
//  * guids: display prints the bare text as q does, show writes "G"$"..." so it parses back;
//  * size: display is bounded (kItemsMax items per vector or list, kRowsMax rows per table or
//    dict, kCharsMax characters in all, each cut marked "..") because a decoded frame may be
//    huge; show is complete, because a truncated expression would not mean the same value.
// This file is the renderer (layout of atoms, vectors, lists, dicts, tables, functions and
// the console grid); the text of single elements (numbers, temporal values, guids, escapes,
// primitive names) is in display_text.cc, declared in display_internal.h.

#include "qgate/qipc/display.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "display_internal.h"

namespace qgate::qipc {

namespace {

using namespace disp;

constexpr std::size_t kItemsMax = 500;      // display: items of one vector or list
constexpr std::size_t kRowsMax = 50;        // display: rows of one table or dict
constexpr std::size_t kCharsMax = 1 << 16;  // display: total output, then ".."

const char* const kTypeNames[] = {"",         "boolean",  "guid",      "",       "byte",
                                  "short",    "int",      "long",      "real",   "float",
                                  "char",     "symbol",   "timestamp", "month",  "date",
                                  "datetime", "timespan", "minute",    "second", "time"};

class renderer {
  public:
    explicit renderer(mode m) : mode_(m) {}

    std::string take() { return std::move(out_); }
    void line(const value& v);     // one-line expression
    void console(const value& v);  // q console layout (display only)

  private:
    bool full() const { return mode_ == mode::display && out_.size() > kCharsMax; }
    std::size_t items_max() const { return mode_ == mode::display ? kItemsMax : SIZE_MAX; }
    void atom(const value& v);
    void vector(const value& v);
    void empty_vector(const value& v);
    void guid_item(const value& v, std::size_t i);
    void symbols(const value& v);
    void general(const value& v);
    void dict_line(const value& v);
    bool keyed_line(const value& k, const value& val);
    void table_line(const value& v);
    void columns_line(const value& names, const value& cols);
    void function(const value& v);
    static std::string cell(const value& col, std::size_t i);
    void grid(const std::vector<std::vector<std::string>>& cols, std::size_t key_cols,
              std::size_t rows, bool cut);
    static void add_columns(const value& table, std::vector<std::vector<std::string>>& out,
                            std::size_t rows);
    static void add_cells(const value& col, std::string header,
                          std::vector<std::vector<std::string>>& out, std::size_t rows);

    mode mode_;
    std::string out_;
};

void renderer::line(const value& v) {
    if (full()) return;
    if (v.attr >= 1 && v.attr <= 4 && v.type >= 0 && v.type <= 19) {
        out_ += std::string("`") + " supg"[v.attr] + "#";
    }
    if (v.type == qtype::kError) {
        out_ += "'" + (plain_symbol(v.syms.at(0))
                           ? v.syms[0]
                           : escape_chars(reinterpret_cast<const uint8_t*>(v.syms[0].data()),
                                          v.syms[0].size()));
    } else if (v.type == -qtype::kSymbol) {
        if (plain_symbol(v.syms.at(0)))
            out_ += "`" + v.syms[0];
        else
            out_ += "`$" + escape_chars(reinterpret_cast<const uint8_t*>(v.syms[0].data()),
                                        v.syms[0].size());
    } else if (v.type < 0) {
        atom(v);
    } else if (v.type == qtype::kSymbol) {
        symbols(v);
    } else if (v.type >= 1 && v.type <= 19) {
        vector(v);
    } else if (v.type == qtype::kList) {
        general(v);
    } else if (v.type == qtype::kDict || v.type == qtype::kSortedDict) {
        dict_line(v);
    } else if (v.type == qtype::kTable) {
        table_line(v);
    } else {
        function(v);
    }
}

void renderer::atom(const value& v) {
    const int t = -v.type;
    if (t == qtype::kChar) {
        out_ += escape_chars(v.raw.data(), 1);
        return;
    }
    if (t == qtype::kGuid) {
        if (mode_ == mode::display)
            out_ += guid_text(v, 0);
        else
            guid_item(v, 0);
        return;
    }
    const std::string s = elem_text(v, 0, mode_);
    if (t == qtype::kByte) {
        out_ += "0x" + s;
    } else if (t == qtype::kFloat) {
        out_ += s + (evident(t, s) ? "" : "f");
    } else if (t == qtype::kReal) {
        out_ += (s == "0w" ? "0W" : s == "-0w" ? "-0W" : s) + "e";
    } else if (t == qtype::kMonth && !is_special(s)) {
        out_ += s + "m";
    } else {
        const char suffix = suffix_of(t);
        out_ += s;
        if (suffix && (is_special(s) || !evident(t, s))) out_ += suffix;
    }
}

void renderer::guid_item(const value& v, std::size_t i) {
    if (elem_is_null(v, i))
        out_ += "0Ng";
    else
        out_ += R"("G"$")" + guid_text(v, i) + "\"";
}

void renderer::empty_vector(const value& v) {
    if (v.type == qtype::kChar)
        out_ += "\"\"";
    else
        out_ += std::string("`") + kTypeNames[v.type] + "$()";
}

void renderer::vector(const value& v) {
    const std::size_t n = length_of(v);
    const int t = v.type;
    if (n == 0) return empty_vector(v);
    if (t == qtype::kChar) {
        if (n == 1) out_ += ",";
        const std::size_t shown = std::min(n, items_max() * 8);
        out_ += escape_chars(v.raw.data(), shown);
        if (shown < n) out_ += "..";
        return;
    }
    if (n == 1) out_ += ",";
    const std::size_t shown = std::min<std::size_t>(n, items_max());
    if (t == qtype::kGuid && mode_ == mode::show) {
        if (n > 1) out_ += "(";
        for (std::size_t i = 0; i < n; ++i) {
            if (i) out_ += ";";
            guid_item(v, i);
        }
        if (n > 1) out_ += ")";
        return;
    }
    if (t == qtype::kBool || t == qtype::kByte) {
        if (t == qtype::kByte) out_ += "0x";
        for (std::size_t i = 0; i < shown && !full(); ++i) out_ += elem_text(v, i, mode_);
        out_ += shown < n ? ".." : (t == qtype::kBool ? "b" : "");
        return;
    }
    bool any_evident = false;
    for (std::size_t i = 0; i < shown && !full(); ++i) {
        std::string s = elem_text(v, i, mode_);
        if (t == qtype::kReal && (s == "0w" || s == "-0w")) s = s == "0w" ? "0W" : "-0W";
        any_evident = any_evident || evident(t, s);
        if (i) out_ += " ";
        out_ += s;
    }
    if (shown < n || full()) {
        out_ += "..";
        return;
    }
    const char suffix = suffix_of(t);
    const bool always =
        t == qtype::kShort || t == qtype::kInt || t == qtype::kReal || t == qtype::kMonth;
    if (suffix && t != qtype::kGuid && (always || !any_evident)) out_ += suffix;
}

void renderer::symbols(const value& v) {
    const std::size_t n = v.syms.size();
    if (n == 0) return empty_vector(v);
    bool plain = true;
    for (const auto& s : v.syms) plain = plain && plain_symbol(s);
    if (n == 1) out_ += ",";
    const std::size_t shown = std::min<std::size_t>(n, items_max());
    if (!plain) {  // `$("a b";"c"): a cast that q and parse_literal both read
        out_ += n > 1 ? "`$(" : "`$";
        for (std::size_t i = 0; i < shown && !full(); ++i) {
            if (i) out_ += ";";
            const auto& s = v.syms[i];
            out_ += (s.size() == 1 ? "," : "") +
                    escape_chars(reinterpret_cast<const uint8_t*>(s.data()), s.size());
        }
        out_ += shown < n ? ".." : (n > 1 ? ")" : "");
        return;
    }
    for (std::size_t i = 0; i < shown && !full(); ++i) out_ += "`" + v.syms[i];
    if (shown < n || full()) out_ += "..";
}

void renderer::general(const value& v) {
    const std::size_t n = v.items.size();
    if (n == 0) {
        out_ += "()";
        return;
    }
    if (n == 1) {  // as q's -3!; a single atom item reads back as a vector (q's own limit)
        out_ += ",";
        return line(v.items[0]);
    }
    out_ += "(";
    const std::size_t shown = std::min<std::size_t>(n, items_max());
    for (std::size_t i = 0; i < shown && !full(); ++i) {
        if (i) out_ += ";";
        line(v.items[i]);
    }
    out_ += shown < n || full() ? "..)" : ")";
}

void renderer::dict_line(const value& v) {
    if (v.items.size() != 2) {
        out_ += "()!()";
        return;
    }
    value k = v.items[0];
    const value& val = v.items[1];
    if (v.type == qtype::kSortedDict) {
        out_ += "`s#";
        k.attr = 0;  // `s# is written once, in front of the whole dict
    }
    if (keyed_line(k, val)) return;
    // The left operand of ! must be a noun: vectors of 2+ items, (..) lists and ([]..) tables;
    // anything written with a verb (,x `s#x `$x) goes in parentheses.
    renderer key(mode_);
    key.line(k);
    const std::string text = key.take();
    const bool bare = ((k.type >= 1 && k.type <= 19 && length_of(k) > 1) ||
                       (k.type == qtype::kList && length_of(k) != 1) || k.type == qtype::kTable) &&
                      !k.attr && text.rfind("`$", 0) != 0 && text[0] != ',';
    out_ += bare ? text : "(" + text + ")";
    out_ += "!";
    line(val);
}

// ([k:..] v:..) for a keyed table whose two halves are simple tables.
bool renderer::keyed_line(const value& k, const value& val) {
    const value* kd = simple_table(k);
    const value* vd = simple_table(val);
    if (!kd || !vd || kd->items[0].syms.empty()) return false;
    out_ += "([";
    columns_line(kd->items[0], kd->items[1]);
    out_ += "] ";
    columns_line(vd->items[0], vd->items[1]);
    out_ += ")";
    return true;
}

void renderer::columns_line(const value& names, const value& cols) {
    for (std::size_t i = 0; i < names.syms.size(); ++i) {
        if (i) out_ += "; ";
        out_ += names.syms[i] + ":";
        if (i < cols.items.size()) line(cols.items[i]);
    }
}

// A table is ([] a:..; b:..) when simple_table allows, else flip `a`b!(..).
void renderer::table_line(const value& v) {
    if (v.attr) out_ += "`s#";
    value plain = v;
    plain.attr = 0;
    const value* d = simple_table(plain);
    if (!d) {
        out_ += "flip ";
        if (!v.items.empty()) line(v.items[0]);
        return;
    }
    out_ += "([] ";
    columns_line(d->items[0], d->items[1]);
    out_ += ")";
}

void renderer::function(const value& v) {
    const int t = v.type;
    if (t == qtype::kLambda) {
        const value* src = v.items.empty() ? nullptr : v.items.data();
        if (src && src->type == qtype::kChar) out_.append(src->raw.begin(), src->raw.end());
        return;
    }
    if (t >= qtype::kUnary && t <= qtype::kIterator) {
        out_ += primitive_text(t, v.raw.empty() ? 0 : v.raw[0]);
        return;
    }
    if (t == qtype::kProjection && !v.items.empty()) {
        const value& f = v.items[0];
        // A verb with its left argument bound reads as q writes it: -15! (md5).
        if (f.type == qtype::kBinary && v.items.size() == 2 && !f.raw.empty() && f.raw[0] < 20) {
            line(v.items[1]);
            return line(f);
        }
        line(f);
        out_ += "[";
        for (std::size_t i = 1; i < v.items.size(); ++i) {
            if (i > 1) out_ += ";";
            const value& a = v.items[i];
            if (!(a.type == qtype::kUnary && !a.raw.empty() && a.raw[0] == 0)) line(a);
        }
        out_ += "]";
        return;
    }
    if (t == qtype::kComposition) {
        out_ += "'[";
        for (std::size_t i = 0; i < v.items.size(); ++i) {
            if (i) out_ += ";";
            line(v.items[i]);
        }
        out_ += "]";
        return;
    }
    if (t >= qtype::kEach && t <= qtype::kEachRight && !v.items.empty()) {
        line(v.items[0]);
        out_ += kIterators[t - qtype::kEach];
        return;
    }
    out_ += fmt("<type %lld>", t);
}

// A table or dict cell: typed-vector items bare (no suffix, no backtick, nulls blank), general
// list items as one-line expressions, as the q console prints them.
std::string renderer::cell(const value& col, std::size_t i) {
    if (col.type == qtype::kSymbol) return col.syms[i];
    if (col.type >= 1 && col.type <= 19) {
        if (elem_is_null(col, i) && col.type != qtype::kChar) return "";
        std::string s = elem_text(col, i, mode::display);
        return col.type == qtype::kReal && s == "0w" ? "0W" : s;
    }
    renderer r(mode::display);
    if (col.type == qtype::kList) r.line(col.items[i]);
    return r.take();
}

void renderer::add_cells(const value& col, std::string header,
                         std::vector<std::vector<std::string>>& out, std::size_t rows) {
    std::vector<std::string> cells{std::move(header)};
    const std::size_t n = std::min<std::size_t>(rows, length_of(col));
    for (std::size_t i = 0; i < n; ++i) cells.push_back(cell(col, i));
    cells.resize(rows + 1);
    out.push_back(std::move(cells));
}

void renderer::add_columns(const value& table, std::vector<std::vector<std::string>>& out,
                           std::size_t rows) {
    const value& d = table.items.at(0);
    const value& names = d.items.at(0);
    const value& cols = d.items.at(1);
    for (std::size_t j = 0; j < names.syms.size(); ++j) {
        static const value kEmpty = value::list({});
        add_cells(j < cols.items.size() ? cols.items[j] : kEmpty, names.syms[j], out, rows);
    }
}

// Writes header, dashes and rows; `key_cols` columns go left of "|".
void renderer::grid(const std::vector<std::vector<std::string>>& cols, std::size_t key_cols,
                    std::size_t rows, bool cut) {
    std::vector<std::size_t> width;
    for (const auto& c : cols) {
        std::size_t w = 0;
        for (const auto& s : c) w = std::max(w, s.size());
        width.push_back(w);
    }
    std::vector<std::string> lines(rows + 2);
    for (std::size_t j = 0; j < cols.size(); ++j) {
        const bool last_key = key_cols && j + 1 == key_cols;
        const bool last = j + 1 == cols.size();
        for (std::size_t r = 0; r < rows + 2; ++r) {
            const std::size_t row = r == 0 ? 0 : r - 1;
            std::string s = r == 1 ? std::string(width[j], '-') : cols[j][row];
            s.resize(width[j], ' ');
            lines[r] += s;
            if (last_key) lines[r] += "|";
            if (!last) lines[r] += (r == 1 && !last_key) ? "-" : " ";
        }
    }
    for (auto& l : lines) {
        while (!l.empty() && l.back() == ' ') l.pop_back();
        out_ += l + "\n";
    }
    if (cut) out_ += "..\n";
}

void renderer::console(const value& v) {
    const bool dict =
        (v.type == qtype::kDict || v.type == qtype::kSortedDict) && v.items.size() == 2;
    const bool table_ok =
        v.type == qtype::kTable && !v.items.empty() && v.items[0].items.size() == 2 &&
        v.items[0].items[0].type == qtype::kSymbol && v.items[0].items[1].type == qtype::kList;
    std::vector<std::vector<std::string>> cols;
    if (table_ok) {
        const std::size_t n = v.count(), rows = std::min(n, kRowsMax);
        add_columns(v, cols, rows);
        return grid(cols, 0, rows, rows < n);
    }
    if (!dict) return line(v);
    const value& k = v.items[0];
    const value& val = v.items[1];
    const auto list_like = [](const value& x) {
        return (x.type >= 0 && x.type <= 19) || x.type == qtype::kTable;
    };
    if (!list_like(k) || !list_like(val) || length_of(k) != length_of(val) ||
        (k.type == qtype::kTable && val.type != qtype::kTable)) {
        return line(v);
    }
    const std::size_t n = length_of(k), rows = std::min(n, kRowsMax);
    if (k.type == qtype::kTable)
        add_columns(k, cols, rows);
    else
        add_cells(k, "", cols, rows);
    const std::size_t key_cols = cols.size();
    if (val.type == qtype::kTable) {
        add_columns(val, cols, rows);
        return grid(cols, key_cols, rows, rows < n);
    }
    // Plain dict: no header, "key| value" lines.
    add_cells(val, "", cols, rows);
    std::size_t w = 0;
    for (std::size_t r = 1; r <= rows; ++r) w = std::max(w, cols[0][r].size());
    for (std::size_t r = 1; r <= rows; ++r) {
        std::string key = cols[0][r];
        key.resize(w, ' ');
        std::string l = key + "| " + cols[1][r];
        while (!l.empty() && l.back() == ' ') l.pop_back();
        out_ += l + "\n";
    }
    if (rows < n) out_ += "..\n";
}

}  // namespace

std::string display(const value& v) {
    renderer r(mode::display);
    r.console(v);
    std::string out = r.take();
    if (out.size() > kCharsMax) out.resize(kCharsMax), out += "..";
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

std::string show(const value& v) {
    renderer r(mode::show);
    r.line(v);
    return r.take();
}

}  // namespace qgate::qipc
