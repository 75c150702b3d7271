// Internals of display() and show(), shared by display.cc (the renderer: layout of lists,
// dicts, tables and functions) and display_text.cc (the text of single elements). Not
// installed; src/qipc only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "qgate/qipc/value.h"

namespace qgate::qipc::disp {

enum class mode { show, display };

// k's iterator glyphs: type 103 carries an index into these.
inline constexpr const char* kIterators[] = {"'", "/", "\\", "':", "/:", "\\:"};

// printf of one integer into a std::string.
std::string fmt(const char* f, long long a);
std::string fmt_u(const char* f, unsigned long long a);
// One element of a fixed-width vector or atom, without the type suffix; nulls are "0N"
// (floats "0n") and infinities "0W"/"-0W" (floats "0w"/"-0w").
std::string elem_text(const value& v, std::size_t i, mode m);
// Element i of a guid vector or atom as 8-4-4-4-12 hex text.
std::string guid_text(const value& v, std::size_t i);
// True for the integer null and infinity texts ("0N", "0W", "-0W").
bool is_special(const std::string& s);
// Null test for table and dict cells, which q leaves blank.
bool elem_is_null(const value& v, std::size_t i);
// The type letter q appends to atoms and vectors ('\0' for long, the default).
char suffix_of(int t);
// Temporal and float texts that already show their type need no letter; "evident" items.
bool evident(int t, const std::string& s);
// A char vector's bytes as the inside of a q string literal (escapes for " \ and controls).
std::string escape_chars(const uint8_t* p, std::size_t n);
// True when `s can be written without `$"..." (q's symbol characters only).
bool plain_symbol(const std::string& s);
// k's name for primitive `index` of type 101 (unary), 102 (binary) or 103 (iterator).
std::string primitive_text(int t, int index);
// Items of a list, vector or table; count() for the rest.
uint64_t length_of(const value& v);
// The dict of a table that ([] a:..) can write: plain identifier names, a list of columns;
// nullptr when the table needs flip `a`b!(..).
const value* simple_table(const value& v);

}  // namespace qgate::qipc::disp
