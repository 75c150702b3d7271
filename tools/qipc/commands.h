// The qipc tool's subcommands. Each takes the arguments after its name and returns the exit
// code: 0 success, 1 invalid input (a bad frame, a parse error), 2 usage error.
#pragma once

#include <string>
#include <vector>

namespace qgate::tools {

using args = std::vector<std::string>;

int cmd_decode(const args& a);
int cmd_encode(const args& a);
int cmd_compress(const args& a);
int cmd_decompress(const args& a);
int cmd_check(const args& a);

/// Prints the usage text to stderr and returns 2.
int usage_error(const std::string& why);

}  // namespace qgate::tools
