// qipc: a command-line tool for q-IPC frames, built on the qgate codec.
//
// Design note: developer and operator tool, single-threaded, reads one frame per run. Every
// subcommand lives in commands.cc; this file only dispatches and prints the usage text.

#include <cstring>
#include <iostream>

#include "commands.h"

namespace {

constexpr const char* kUsage = R"(usage: qipc <command> [options] [args]

commands:
  decode [--binary] [--show] [HEX|-]
      Validate a whole frame and print its header and value as the q console would
      (--show: one-line q expression instead). Compressed frames are decompressed.
      HEX is the frame in hex (whitespace allowed); "-" or nothing reads hex from stdin;
      --binary reads the raw frame bytes from stdin.
  encode [--type async|sync|response] [--compress] [--binary] LITERAL
      Parse a q literal (grammar: tools/qipc/README.md) and print the frame in hex
      (--binary: raw bytes). Default type async, as q's -8! writes. --compress compresses
      as q does when q would (> 2000 bytes and under half the size).
  compress [--binary] [HEX|-]
      Compress a plain frame with q's algorithm (prints the input unchanged, with a note on
      stderr, when q would not compress it).
  decompress [--binary] [HEX|-]
      Decompress a compressed frame; prints the plain frame in hex.
  check [--binary] [HEX|-]
      Validate header, declared length against the bytes given, decompression and the body.
      Prints "ok", or "<error> at byte N: <what>" and exits 1.

exit codes: 0 ok, 1 invalid input, 2 usage error

examples:
  qipc encode --type sync '`a`b!1 2'
  qipc decode 010000000d000000fa01000000
  qipc check 010000000e000000fa01000000
)";

}  // namespace

namespace qgate::tools {

int usage_error(const std::string& why) {
    std::cerr << "qipc: " << why << "\n\n" << kUsage;
    return 2;
}

}  // namespace qgate::tools

int main(int argc, char** argv) {
    using namespace qgate::tools;
    if (argc < 2) return usage_error("missing command");
    const std::string cmd = argv[1];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        std::cout << kUsage;
        return 0;
    }
    const args rest(argv + 2, argv + argc);
    if (cmd == "decode") return cmd_decode(rest);
    if (cmd == "encode") return cmd_encode(rest);
    if (cmd == "compress") return cmd_compress(rest);
    if (cmd == "decompress") return cmd_decompress(rest);
    if (cmd == "check") return cmd_check(rest);
    return usage_error("unknown command '" + cmd + "'");
}
