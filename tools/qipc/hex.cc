// Hex and stdin helpers for the qipc tool.
//
// Design note: the tool reads one whole frame per run, so input is read fully into memory;
// this is a developer tool, never part of the gateway's data path.

#include "hex.h"

#include <iostream>
#include <iterator>

namespace qgate::tools {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

bool parse_hex(std::string_view text, std::vector<uint8_t>& out, std::string& error) {
    std::size_t i = 0;
    while (i < text.size() && is_space(text[i])) ++i;
    if (text.substr(i, 2) == "0x" || text.substr(i, 2) == "0X") i += 2;
    int high = -1;
    for (; i < text.size(); ++i) {
        if (is_space(text[i])) continue;
        const int v = hex_value(text[i]);
        if (v < 0) {
            error = "bad hex: character " + std::to_string(i) + " ('" + std::string(1, text[i]) +
                    "') is not a hex digit";
            return false;
        }
        if (high < 0) {
            high = v;
        } else {
            out.push_back(uint8_t(high * 16 + v));
            high = -1;
        }
    }
    if (high >= 0) {
        error = "bad hex: odd number of hex digits";
        return false;
    }
    return true;
}

std::string to_hex(std::span<const uint8_t> bytes) {
    static const char* kDigits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (uint8_t b : bytes) {
        out += kDigits[b >> 4];
        out += kDigits[b & 15];
    }
    return out;
}

std::string read_stdin() {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

bool read_frame(std::string_view arg, bool binary, std::vector<uint8_t>& out, std::string& error) {
    if (binary) {
        const std::string raw = read_stdin();
        out.assign(raw.begin(), raw.end());
        return true;
    }
    if (arg.empty() || arg == "-") return parse_hex(read_stdin(), out, error);
    return parse_hex(arg, out, error);
}

}  // namespace qgate::tools
