// parse_literal: each form of the grammar (tools/qipc/README.md) against q's own bytes, parse
// errors with their positions, and the q-produced corpora in shared/qipc-vectors read in place:
// every expression the grammar claims must parse and encode to exactly q's bytes; the ones it
// does not claim are listed by name below, so none is skipped silently.

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "qgate/qipc/compress.h"
#include "qgate/qipc/display.h"
#include "qgate/qipc/writer.h"

namespace q = qgate::qipc;

namespace {

std::string hex(const std::vector<uint8_t>& b) {
    static const char* kDigits = "0123456789abcdef";
    std::string out;
    for (uint8_t x : b) out += {kDigits[x >> 4], kDigits[x & 15]};
    return out;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

std::vector<uint8_t> body_of(const q::value& v) { return q::encode_body(v); }

// Body hex of a literal, or "error: ..." when it does not parse.
std::string lit(std::string_view text) {
    q::value v;
    std::string err;
    if (!q::parse_literal(text, v, &err)) return "error: " + err;
    return hex(body_of(v));
}

// Position of the parse error, or -1 when the text parses.
long error_at(std::string_view text) {
    q::value v;
    const q::status st = q::parse_literal(text, v);
    return st ? -1 : long(st.offset);
}

std::string vectors_dir() { return std::string(QGATE_SHARED_DIR) + "/qipc-vectors/"; }

// Pairs of lines: expression, hex (qPython's .out format).
std::vector<std::pair<std::string, std::string>> read_pairs(const std::string& path) {
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path);
    std::vector<std::pair<std::string, std::string>> out;
    std::string expr, bytes;
    while (std::getline(in, expr) && std::getline(in, bytes)) out.emplace_back(expr, lower(bytes));
    return out;
}

// qPython cases outside the grammar: named functions, primitives and a q evaluation.
const std::set<std::string> kQPythonOutside = {
    "1+`",       // evaluates to the error 'type; the grammar writes errors as 'type instead
    "{x+y}[3]",  // projection
    "insert [1]", "xbar", "not", "and", "md5", "any", "save", "raze", "sums", "prev",
};

}  // namespace

TEST_CASE("literal: numeric atoms use q's type letters") {
    CHECK(lit("1") == "f90100000000000000");
    CHECK(lit("1j") == "f90100000000000000");
    CHECK(lit("1i") == "fa01000000");
    CHECK(lit("-234h") == "fb16ff");
    CHECK(lit("0x2a") == "fc2a");
    CHECK(lit("1b") == "ff01");
    CHECK(lit("0b") == "ff00");
    CHECK(lit("5.5e") == "f80000b040");
    CHECK(lit("1e") == "f80000803f");
    CHECK(lit("3.234") == "f7ac1c5a643bdf0940");
    CHECK(lit("1f") == "f7000000000000f03f");
    CHECK(lit("1e10") == "f7000000205fa00242");
    CHECK(lit("-1.5e-3") == lit("-0.0015"));
    CHECK(lit(".5") == lit("0.5"));
    CHECK(lit("89421099511627575j") == "f937bfd02704b03d01");
}

TEST_CASE("literal: nulls and infinities") {
    CHECK(lit("0N") == "f90000000000000080");
    CHECK(lit("0Nh") == "fb0080");
    CHECK(lit("0Ni") == "fa00000080");
    CHECK(lit("0Ne") == "f80000c07f");
    CHECK(lit("0n") == "f7000000000000f87f");
    CHECK(lit("0Ng") == "fe00000000000000000000000000000000");
    CHECK(lit("0W") == "f9ffffffffffffff7f");
    CHECK(lit("-0W") == "f90100000000000080");
    CHECK(lit("0Wi") == "faffffff7f");
    CHECK(lit("-0Wh") == "fb0180");
    CHECK(lit("0w") == "f7000000000000f07f");
    CHECK(lit("-0w") == "f7000000000000f0ff");
    CHECK(lit("0We") == "f80000807f");
    CHECK(lit("0Nd") == "f200000080");
    CHECK(lit("0Wd") == "f2ffffff7f");
    CHECK(lit("0Np") == "f40000000000000080");
    CHECK(lit("0Nz") == "f1000000000000f87f");
}

TEST_CASE("literal: temporal atoms") {
    CHECK(lit("2000.01.04D05:36:57.600") == "f400c0cafa20fe0000");
    CHECK(lit("2000.01.04D05:36:57.600000000") == "f400c0cafa20fe0000");
    CHECK(lit("2024.01.02D10:00:00.000000001") == lit("2024.01.02D10:00:00.000000001p"));
    CHECK(lit("2001.01m") == "f30c000000");
    CHECK(lit("1999.12m") == "f3ffffffff");
    CHECK(lit("2001.01.01") == "f26e010000");
    CHECK(lit("1979.10.12") == "f226e3ffff");
    CHECK(lit("2000.01.04T05:36:57.600") == "f1ac1c5a643bdf0940");
    CHECK(lit("0D05:36:57.600") == "f000c0dd4663120000");
    CHECK(lit("-0D00:00:01") == "f0003665c4ffffffff");
    CHECK(lit("12:01") == "efd1020000");
    CHECK(lit("12:05:00") == "eeeca90000");
    CHECK(lit("12:04:59.123") == "ed73be9702");
    CHECK(lit("43:12:34.567") == "ed07934509");  // past 24h and negative: javakdb's vectors
    CHECK(lit("-23:12:34.567") == "edf90e05fb");
    CHECK(lit("2000.01.01D") == "f40000000000000000");
}

TEST_CASE("literal: chars, strings, symbols, guids") {
    CHECK(lit("\"a\"") == "f661");
    CHECK(lit("\"abc\"") == "0a0003000000616263");
    CHECK(lit("\"\"") == "0a0000000000");
    CHECK(lit(R"("a\"b\\c\n")") ==
          "0a0006000000612262"
          "5c630a");
    CHECK(lit(R"("\001\377")") == "0a000200000001ff");
    CHECK(lit("`abc") == "f561626300");
    CHECK(lit("`") == "f500");
    CHECK(lit("`a`b") ==
          "0b0002000000610062"
          "00");
    CHECK(lit("``quick``fox") == "0b000400000000717569636b0000666f7800");
    CHECK(lit("`:path/to/file") == "f53a706174682f746f2f66696c6500");
    CHECK(lit("`$\"a b\"") ==
          "f5612062"
          "00");
    CHECK(lit("`$(\"a b\";\"c\")") ==
          "0b000200000061206200"
          "6300");
    CHECK(lit("\"G\"$\"8c680a01-5a49-5aab-5a65-d4bfddb6a661\"") ==
          "fe8c680a015a495aab5a65d4bfddb6a661");
    CHECK(lit("enlist \"G\"$\"8c680a01-5a49-5aab-5a65-d4bfddb6a661\"") ==
          "020001000000"
          "8c680a015a495aab5a65d4bfddb6a661");
}

TEST_CASE("literal: vectors take the last item's type letter") {
    CHECK(lit("1 2 3") == "070003000000010000000000000002000000000000000300000000000000");
    CHECK(lit("1 2 3i") == "060003000000010000000200000003000000");
    CHECK(lit("1 0N 3h") == "050003000000010000800300");
    CHECK(lit("1 -2") == "0700020000000100000000000000feffffffffffffff");
    CHECK(lit("1.5 2") == "090002000000000000000000f83f0000000000000040");
    CHECK(lit("1 2f") == "090002000000000000000000f03f0000000000000040");
    CHECK(lit("5.5 8.5e") == "0800020000000000b04000000841");
    CHECK(lit("101b") == "010003000000010001");
    CHECK(lit("0x0102ff") == "0400030000000102ff");
    CHECK(lit("2001.01 2001.02m") == "0d00020000000c0000000d000000");
    CHECK(lit("0N 0Nd") == "0e00020000000000008000000080");
    CHECK(lit("2001.01.01 0N") == "0e00020000006e01000000000080");
    CHECK(lit("12:01 0Nu") == "110002000000d102000000000080");
    CHECK(lit("`s#1 2 3") == "070103000000010000000000000002000000000000000300000000000000");
    CHECK(lit("`u#`a`b") ==
          "0b02020000006100"
          "6200");
    CHECK(lit("`int$()") == "060000000000");
    CHECK(lit("`symbol$()") == "0b0000000000");
    CHECK(lit("`timestamp$()") == "0c0000000000");
}

TEST_CASE("literal: lists, enlist, take, dicts, tables") {
    CHECK(lit("()") == "000000000000");
    CHECK(lit("(1;`a;\"xy\")") == "000003000000f90100000000000000f561000a00020000007879");
    CHECK(lit("(1i;2i)") == lit("1 2i"));  // atoms of one type collapse
    CHECK(lit("(`a;`b)") == lit("`a`b"));
    CHECK(lit("(\"a\";\"b\")") == lit("\"ab\""));
    CHECK(lit("(1;;2)") ==
          "000003000000f90100000000000000"
          "6500"
          "f90200000000000000");
    CHECK(lit("enlist 1") == "0700010000000100000000000000");
    CHECK(lit(",1") == lit("enlist 1"));
    CHECK(lit(",`a") ==
          "0b000100000061"
          "00");
    CHECK(lit("enlist 1 2") == "00000100000007000200000001000000000000000200000000000000");
    CHECK(lit("3#`a") == lit("`a`a`a"));
    CHECK(lit("-2#1 2 3") == lit("2 3"));
    CHECK(lit("5#1 2") == lit("1 2 1 2 1"));
    CHECK(lit("-5#1 2 3") == lit("2 3 1 2 3"));
    CHECK(lit("0#1 2") == lit("`long$()"));
    CHECK(lit("`a`b!1 2") ==
          "630b0002000000610062"
          "00070002000000"
          "0100000000000000"
          "0200000000000000");
    CHECK(lit("`s#`a`b!2 3i") == "7f0b0102000000610062000600020000000200000003000000");
    CHECK(lit("([] a:1 2; b:`x`y)") == lit("flip `a`b!(1 2;`x`y)"));
    CHECK(lit("([] a:1 2; b:`x)") == lit("([] a:1 2; b:`x`x)"));  // atoms broadcast
    CHECK(lit("([k:1 2] v:`a`b)") == lit("([] k:1 2)!([] v:`a`b)"));
    CHECK(lit("enlist `a`b!1 2") == lit("([] a:,1; b:,2)"));  // a one-row table, as q
    CHECK(lit("::") == "6500");
    CHECK(lit("(::)") == "6500");
    CHECK(lit("'type") ==
          "8074797065"
          "00");
    CHECK(lit("'\"ERR boom\"") ==
          "80"
          "45525220626f6f6d"
          "00");
    CHECK(lit("{x+y}") == "64000a00050000007b782b797d");
    CHECK(lit("{[a] \"}\"}") == "64000a00090000007b5b615d20227d227d");
}

TEST_CASE("literal: parse errors say what and where") {
    CHECK(error_at("") == 0);
    CHECK(error_at("1 2 3") == -1);
    CHECK(error_at("(1;2") == 4);
    CHECK(error_at("1+2") == 1);
    CHECK(error_at("`a`b!1 2 3") == 4);  // length
    CHECK(error_at("1 2.5 `a") == 6);
    CHECK(error_at("2001.13.01") == 0);  // invalid date
    CHECK(error_at("2001.02.29") == 0);
    CHECK(error_at("12:60") == 0);
    CHECK(error_at("1 2i 3h") == 5);  // mixed letters
    CHECK(error_at("1q") == 1);       // unknown letter
    CHECK(error_at("\"abc") == 0);
    CHECK(error_at("{x+y") == 0);
    CHECK(error_at("40000h") == 0);
    CHECK(error_at("(") == 1);
    CHECK(error_at("2#'type") == 1);                    // take needs a list, atom or table
    CHECK(error_at("20000000#1") == 8);                 // bounded allocation
    CHECK(error_at("1700.01.01D00:00") == 0);           // outside int64 nanoseconds
    CHECK(error_at("99999999999:00:00") == 0);          // hours out of range
    CHECK(error_at("0D00:00:00.0000000001") == 0);      // 10 fraction digits
    CHECK(error_at(std::string(500, '(')) >= 0);  // bounded nesting, no stack overflow
    q::value v;
    std::string err;
    CHECK_FALSE(q::parse_literal("(1;2", v, &err));
    CHECK(err == "parse error at position 4: expected ';' or ')'");
}

TEST_CASE("literal: every qPython case inside the grammar encodes to q's bytes") {
    const auto cases = read_pairs(vectors_dir() + "qpython-QExpressions3.out");
    REQUIRE(cases.size() == 118);
    int matched = 0, outside = 0;
    for (const auto& [expr, bytes] : cases) {
        if (kQPythonOutside.count(expr)) {
            ++outside;
            continue;
        }
        INFO("expression: " << expr);
        CHECK(lit(expr) == bytes);
        matched += lit(expr) == bytes;
    }
    CHECK(outside == int(kQPythonOutside.size()));  // every listed case exists in the file
    CHECK(matched == 118 - int(kQPythonOutside.size()));
    CHECK(matched >= 100);
}

TEST_CASE("literal: q's compressed messages re-made byte for byte") {
    const auto cases = read_pairs(vectors_dir() + "qpython-QCompressedExpressions3.out");
    REQUIRE(cases.size() == 3);
    int matched = 0;
    for (const auto& [expr, rest] : cases) {
        if (expr.find("til") != std::string::npos) continue;  // outside: til and + are functions
        INFO("expression: " << expr);
        q::value v;
        REQUIRE(q::parse_literal(expr, v));
        const auto msg = q::encode_message(v, q::msg_type::async);
        std::vector<uint8_t> out(msg.size() / 2);
        const uint64_t n = q::compress(msg, out);
        REQUIRE(n > 12);
        out.resize(n);
        CHECK(hex(out).substr(16) == rest);  // after the 8-byte header, as the file stores it
        ++matched;
    }
    CHECK(matched == 2);
}

TEST_CASE("literal: javakdb's test messages") {
    q::value v;
    REQUIRE(q::parse_literal("([] name:(); iq:())", v));  // a real q response per javakdb
    CHECK(hex(q::encode_message(v, q::msg_type::response)) ==
          "010200002b0000006200630b00020000006e616d6500697100000002000000000000000000000000000000");
    REQUIRE(q::parse_literal("2000#1b", v));  // javakdb's compressor, byte-identical to q's
    const auto msg = q::encode_message(v, q::msg_type::async);
    std::vector<uint8_t> out(msg.size() / 2);
    out.resize(q::compress(msg, out));
    CHECK(hex(out) ==
          "0100010026000000de070000000100d00700000101ff00ff00ff00ff00ff00ff00ff00ff00c5");
}

TEST_CASE("literal: KX documentation messages") {
    std::ifstream in(vectors_dir() + "kx-docs-serialization.tsv");
    REQUIRE(in.good());
    // Outside the grammar: functions (til, each), a q session command, and -8!1 2 3 from a
    // pre-3.0 q whose integer literals were ints (the grammar follows q 3+: longs).
    const std::set<std::string> outside = {"`byte$til 5",
                                           "`byte$enlist til 5",
                                           "`a`b!enlist each 2 3i",
                                           "flip`a`b!enlist each 2 3i",
                                           "\\d .d; test:{x+y}; -8!test",
                                           "1 2 3"};
    std::string line;
    int matched = 0, skipped = 0;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
        std::string expr = line.substr(t1 + 1, t2 - t1 - 1);
        if (expr.rfind("-8!", 0) == 0) expr = expr.substr(3);
        if (outside.count(expr)) {
            ++skipped;
            continue;
        }
        INFO("expression: " << expr);
        q::value v;
        REQUIRE(q::parse_literal(expr, v));
        CHECK(hex(q::encode_message(v, q::msg_type::async)) == line.substr(t2 + 1));
        ++matched;
    }
    CHECK(skipped == int(outside.size()));
    CHECK(matched == 9);
}
