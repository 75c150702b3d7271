// Internals of parse_literal, shared by its three files (not installed; src/qipc only):
//   literal.cc          the recursive-descent parser (tokens, nesting, the grammar);
//   literal_numbers.cc  numeric and temporal tokens: their forms, q's vector typing rules and
//                       the conversion of each token to element bytes (element_writer);
//   literal_values.cc   what the parser builds with: list collapse, take (#), the dyads
//                       (! # $ , flip) and tables.
// Control-plane only: errors are thrown as parse_failure and turned into a status by
// parse_literal, so nothing here is fit for the data plane.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qgate/qipc/value.h"

namespace qgate::qipc::literal {

// A parse error: position in the text and what was expected or wrong.
struct parse_failure {
    std::size_t pos;
    std::string what;
};

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_symbol_char(char c) {
    return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == ':' || c == '/';
}

template <class T>
void put(std::vector<uint8_t>& out, T x) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &x, sizeof(T));
    out.insert(out.end(), b, b + sizeof(T));
}

// --- literal_numbers.cc ----------------------------------------------------------------------

// One numeric token of a vector, split into its form and its optional type letter.
struct num_token {
    enum class form_t { integer, decimal, date, stamp, datetime, span, clock, null, inf };
    using enum form_t;  // num_token::integer, ...
    form_t form;
    std::string_view body;  // text without sign and letter
    bool neg = false;
    char letter = 0;          // explicit type letter, 0 if none
    bool float_null = false;  // 0n / 0w (lower case): float unless a letter says otherwise
    std::size_t pos = 0;
};

// Form of a numeric token's text (sign and type letter removed), nullopt if it is not one;
// sets `float_null` for the lower-case 0n / 0w.
std::optional<num_token::form_t> form_of(std::string_view s, bool& float_null);
// Natural q type of a token without a letter (0 = adopts the vector's type: bare 0N / 0W).
int natural_type(const num_token& t);
// Vector type of a type letter ('j' -> 7), -1 if it is not one.
int letter_type(char c);

// Writes the element bytes of token `t` converted to vector type `type` (1..19).
class element_writer {
  public:
    element_writer(std::vector<uint8_t>& out, int type) : out_(out), type_(type) {}
    void write(const num_token& t);

  private:
    void null_or_inf(const num_token& t);
    void integral(const num_token& t);
    void floating(const num_token& t);
    void temporal(const num_token& t);
    [[noreturn]] void fail(const num_token& t) const {
        throw parse_failure{t.pos, "'" + std::string(t.body) + "' does not fit type '" +
                                       std::string(1, " bg xhijefcspmdznuvt"[type_]) + "'"};
    }
    template <class T>
    void put_signed(const num_token& t, int64_t v) {
        put(out_, T(t.neg ? -v : v));
    }

    std::vector<uint8_t>& out_;
    int type_;
};

// --- literal_values.cc -----------------------------------------------------------------------

bool is_atom(const value& v);
// Items of a list, vector or table; count() for the rest.
uint64_t length_of(const value& v);
// Item i of a vector, list or table row (tables: a dict of the row), as q's x@i.
value item_at(const value& v, uint64_t i);
// Joins atoms of one type into a vector (q's list collapse); nullopt when they differ.
std::optional<value> collapse(const std::vector<value>& items);
// n#v: the first n items (the last -n when negative), cycling as q does.
value take_items(const value& v, int64_t n);
// ([k:..] c:..; d:..): atoms broadcast to the length of the other columns, as in q.
value make_table(std::vector<std::pair<std::string, value>> cols, std::size_t pos);
// Applies `op` (one of , + $ # !; `,` is enlist and `+` flip, whose `left` is ignored).
value dyad(value left, char op, value right, std::size_t pos);

}  // namespace qgate::qipc::literal
