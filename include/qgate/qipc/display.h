// q-console-like rendering of values (the tool, error messages, the admin interface).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "qgate/qipc/value.h"

namespace qgate::qipc {

/// Renders `v` as the q console would print it (multi-line for tables and dicts).
std::string display(const value& v);
/// Renders `v` as a one-line q expression that q would parse back (`-3!` style).
std::string show(const value& v);

/// Parses a small q-literal syntax into a value (see tools/qipc/README.md for the grammar):
/// atoms with type suffixes, vectors, strings, symbols, general lists, dicts, tables, `::`.
status parse_literal(std::string_view text, value& out, std::string* error_text = nullptr);

}  // namespace qgate::qipc
