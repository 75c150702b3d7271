// Hex text <-> bytes and input reading for the qipc tool.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qgate::tools {

/// Parses hex text; whitespace and a leading "0x" are ignored. On failure `error` names the
/// first offending character.
bool parse_hex(std::string_view text, std::vector<uint8_t>& out, std::string& error);
/// Lower-case hex, no separators.
std::string to_hex(std::span<const uint8_t> bytes);
/// Reads all of stdin.
std::string read_stdin();
/// A frame from the command line: `arg` is hex, or "-" (or empty) for hex on stdin; with
/// `binary` the raw bytes come from stdin.
bool read_frame(std::string_view arg, bool binary, std::vector<uint8_t>& out, std::string& error);

}  // namespace qgate::tools
