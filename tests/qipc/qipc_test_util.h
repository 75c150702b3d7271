// Helpers shared by the qipc tests: hex conversion and loading the shared vector files in place.
#pragma once

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#ifndef QGATE_SHARED_DIR
#error "QGATE_SHARED_DIR must point at the shared directory (see tests/qipc/meson.build)"
#endif

namespace qgate::qipc::test {

/// Bytes from hex text (either case; spaces ignored). Throws on odd length or bad digits.
inline std::vector<uint8_t> hex(std::string_view text) {
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        throw std::invalid_argument("bad hex digit");
    };
    std::vector<uint8_t> out;
    int high = -1;
    for (char c : text) {
        if (c == ' ' || c == '\r' || c == '\n') continue;
        if (high < 0) {
            high = digit(c);
        } else {
            out.push_back(static_cast<uint8_t>(high << 4 | digit(c)));
            high = -1;
        }
    }
    if (high >= 0) throw std::invalid_argument("odd hex length");
    return out;
}

/// One vector: its name (q expression or case name) and bytes.
struct vector_case {
    std::string name;
    std::vector<uint8_t> bytes;
};

inline std::string vector_path(std::string_view file) {
    return std::string(QGATE_SHARED_DIR) + "/qipc-vectors/" + std::string(file);
}

inline std::vector<std::string> read_lines(std::string_view file) {
    std::ifstream in(vector_path(file));
    if (!in) throw std::runtime_error("cannot open " + vector_path(file));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
    }
    return lines;
}

/// qPython .out format: pairs of lines, expression then hex.
inline std::vector<vector_case> read_qpython(std::string_view file) {
    const std::vector<std::string> lines = read_lines(file);
    std::vector<vector_case> out;
    for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
        out.push_back({lines[i], hex(lines[i + 1])});
    }
    return out;
}

/// TSV format: '#' comments; the name is column `name_col`, the hex is the last column.
inline std::vector<vector_case> read_tsv(std::string_view file, std::size_t name_col) {
    std::vector<vector_case> out;
    for (const std::string& line : read_lines(file)) {
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> cols;
        std::size_t start = 0;
        for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos;
             start = tab + 1) {
            cols.push_back(line.substr(start, tab - start));
        }
        cols.push_back(line.substr(start));
        out.push_back({cols.at(name_col), hex(cols.back())});
    }
    return out;
}

}  // namespace qgate::qipc::test
