// Classification of real encodings: q's (`f;args), node-q's ("f";args), string queries,
// lambdas and invalid bodies; argument access and hash keys across the three call forms.

#include <doctest/doctest.h>

#include "route_test_util.h"

namespace qgate::route {
namespace {

using qipc::msg_type;
using test::body;
using test::value;

// -8!(`getTrades;`AAPL) from q 4.0, without the 8-byte header.
const std::vector<uint8_t> kQGetTrades = {
    0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xf5, 'g', 'e', 't', 'T', 'r', 'a', 'd', 'e', 's',
    0x00, 0xf5, 'A',  'A',  'P',  'L',  0x00};

TEST_CASE("q list call: symbol name, symbol argument") {
    CHECK(body(value::list({value::symbol("getTrades"), value::symbol("AAPL")})) == kQGetTrades);
    const call_info c = classify(kQGetTrades, true, msg_type::sync);
    CHECK(c.form == call_form::list);
    CHECK(c.type == msg_type::sync);
    CHECK(c.name == "getTrades");
    CHECK(c.arg_count == 1);
    CHECK(c.gw == gw_kind::none);
    arg_view a;
    REQUIRE(call_arg(c, 1, a));
    CHECK_FALSE(a.is_text);
    CHECK(a.object.type == -qipc::qtype::kSymbol);
    CHECK(a.object.offset == 17);
    CHECK(hash_key(a) == "AAPL");
    CHECK_FALSE(call_arg(c, 0, a));
    CHECK_FALSE(call_arg(c, 2, a));
}

TEST_CASE("node-q call: char-vector name") {
    const auto b = body(value::list({value::string("getTrades"), value::symbol("AAPL"),
                                     value::long_(10)}));
    const call_info c = classify(b, true, msg_type::async);
    CHECK(c.form == call_form::list);
    CHECK(c.type == msg_type::async);
    CHECK(c.name == "getTrades");
    CHECK(c.arg_count == 2);
    std::string_view key;
    REQUIRE(call_key(c, 1, key));
    CHECK(key == "AAPL");
    REQUIRE(call_key(c, 2, key));
    CHECK(key == std::string_view("\x0a\0\0\0\0\0\0\0", 8));  // the long's value bytes
    CHECK_FALSE(call_key(c, 3, key));
}

TEST_CASE("argument keys: symbol, string and string-call literal hash alike") {
    std::string_view k1, k2, k3;
    const auto b1 = body(value::list({value::symbol("f"), value::symbol("AAPL")}));
    const auto b2 = body(value::list({value::string("f"), value::string("AAPL")}));
    const auto b3 = body(value::string("f[`AAPL]"));
    const auto b4 = body(value::string("f[\"AAPL\"]"));
    REQUIRE(call_key(classify(b1, true, msg_type::sync), 1, k1));
    REQUIRE(call_key(classify(b2, true, msg_type::sync), 1, k2));
    REQUIRE(call_key(classify(b3, true, msg_type::sync), 1, k3));
    CHECK(k1 == "AAPL");
    CHECK(k2 == "AAPL");
    CHECK(k3 == "AAPL");
    REQUIRE(call_key(classify(b4, true, msg_type::sync), 1, k3));
    CHECK(k3 == "AAPL");
    // A nested argument hashes as its encoded bytes.
    const auto b5 = body(value::list({value::symbol("f"), value::symbols({"a", "b"})}));
    REQUIRE(call_key(classify(b5, true, msg_type::sync), 1, k1));
    CHECK(k1.size() == 10);
}

TEST_CASE("string calls are named by their leading identifier") {
    struct row {
        const char* q;
        std::string_view name;
        uint32_t args;
    };
    const row rows[] = {
        {"getTrades[`AAPL]", "getTrades", 1},
        {"  getTrades[`AAPL; 2024.01.02]  ", "getTrades", 2},
        {".api.getQuotes[`MSFT;(1;2);\"a;b\"]", ".api.getQuotes", 3},
        {"f[]", "f", 0},
        {"f[;1]", "f", 2},
        {"getTrades `AAPL", "getTrades", 1},
        {"getTrades`AAPL", "getTrades", 1},
        {"select from trade where sym=`AAPL", "select", 1},
        {"f -1", "f", 1},
        {"tables", "tables", 0},
        {"f[1", "f", 1},  // unbalanced: best effort, the rest is the argument
        {"1+1", kStringQueryName, 0},
        {"a:3", kStringQueryName, 0},
        {"x + 1", kStringQueryName, 0},
        {"(`f;2)", kStringQueryName, 0},
        {"", kStringQueryName, 0},
        {"._x", "._x", 0},     // a valid q name: a letter after the dots
        {"..", kStringQueryName, 0},
        {"3f[1]", kStringQueryName, 0},
    };
    for (const row& r : rows) {
        CAPTURE(r.q);
        const auto b = body(value::string(r.q));
        const call_info c = classify(b, true, msg_type::sync);
        CHECK(c.form == call_form::string);
        CHECK(c.name == r.name);
        CHECK(c.arg_count == r.args);
    }
}

TEST_CASE("string call arguments split on top-level semicolons") {
    const auto b = body(value::string("f[`a; (1;2) ; \"x;y\"; {x;y}[1;2]]"));
    const call_info c = classify(b, true, msg_type::sync);
    REQUIRE(c.arg_count == 4);
    arg_view a;
    REQUIRE(call_arg(c, 1, a));
    CHECK(a.is_text);
    CHECK(a.text == "`a");
    REQUIRE(call_arg(c, 2, a));
    CHECK(a.text == "(1;2)");
    REQUIRE(call_arg(c, 3, a));
    CHECK(a.text == "\"x;y\"");
    CHECK(hash_key(a) == "x;y");
    REQUIRE(call_arg(c, 4, a));
    CHECK(a.text == "{x;y}[1;2]");
    CHECK_FALSE(call_arg(c, 5, a));
}

TEST_CASE("lambdas, atoms, empty lists and invalid bodies") {
    const auto lam = qipc::value{qipc::qtype::kLambda, 0, {}, {""}, {value::string("{x+y}")}};
    const auto b1 = body(value::list({lam, value::long_(1), value::long_(2)}));
    const call_info c1 = classify(b1, true, msg_type::sync);
    CHECK(c1.form == call_form::list);
    CHECK(c1.name == kLambdaName);
    CHECK(c1.arg_count == 2);

    const auto b2 = body(value::long_(5));
    CHECK(classify(b2, true, msg_type::sync).form == call_form::other);
    CHECK(classify(b2, true, msg_type::sync).name == kOtherName);

    const auto b3 = body(value::list({}));
    CHECK(classify(b3, true, msg_type::sync).form == call_form::other);

    const auto b4 = body(value::list({value::long_(1), value::symbol("x")}));
    CHECK(classify(b4, true, msg_type::sync).name == kOtherName);

    std::vector<uint8_t> bad = kQGetTrades;
    bad.pop_back();  // symbol loses its NUL
    const call_info c5 = classify(bad, true, msg_type::sync);
    CHECK(c5.form == call_form::invalid);
    CHECK(c5.name == kOtherName);
    std::vector<uint8_t> trailing = kQGetTrades;
    trailing.push_back(0);
    CHECK(classify(trailing, true, msg_type::sync).form == call_form::invalid);
    arg_view a;
    CHECK_FALSE(call_arg(c5, 1, a));
}

TEST_CASE("big-endian bodies classify the same") {
    // (`f;`AAPL) as a big-endian client writes it: the list count is big-endian.
    const std::vector<uint8_t> be = {0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xf5, 'f', 0x00,
                                     0xf5, 'A',  'A',  'P',  'L',  0x00};
    const call_info c = classify(be, false, msg_type::sync);
    CHECK(c.form == call_form::list);
    CHECK(c.name == "f");
    std::string_view key;
    REQUIRE(call_key(c, 1, key));
    CHECK(key == "AAPL");
}

}  // namespace
}  // namespace qgate::route
