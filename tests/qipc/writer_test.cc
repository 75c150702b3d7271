// Encoding: factories, sizes computed up front, whole messages, error replies, body_writer.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "qgate/qipc/value.h"
#include "qgate/qipc/walker.h"
#include "qgate/qipc/writer.h"
#include "qipc_test_util.h"

namespace qgate::qipc {
namespace {

using test::hex;

std::vector<uint8_t> body_of(const value& v) {
    std::vector<uint8_t> out(encoded_size(v));
    CHECK(encode_into(v, out.data()) == out.data() + out.size());
    return out;
}

TEST_CASE("factories encode as q does") {
    CHECK(body_of(value::generic_null()) == hex("6500"));
    CHECK(body_of(value::boolean(true)) == hex("ff01"));
    CHECK(body_of(value::byte(0x2a)) == hex("fc2a"));
    CHECK(body_of(value::short_(-234)) == hex("fb16ff"));
    CHECK(body_of(value::int_(1)) == hex("fa01000000"));
    CHECK(body_of(value::long_(89421099511627575)) == hex("f937bfd02704b03d01"));
    CHECK(body_of(value::real(5.5f)) == hex("f80000b040"));
    CHECK(body_of(value::float_(3.234)) == hex("f7ac1c5a643bdf0940"));
    CHECK(body_of(value::char_('0')) == hex("f630"));
    CHECK(body_of(value::symbol("abc")) == hex("f561626300"));
    CHECK(body_of(value::symbol("")) == hex("f500"));
    CHECK(body_of(value::error("type")) == hex("807479706500"));
    CHECK(body_of(value::string("abc")) == hex("0a0003000000616263"));
    CHECK(body_of(value::string("")) == hex("0a0000000000"));
    CHECK(body_of(value::symbols({"", "quick", "", "fox"})) ==
          hex("0b000400000000717569636b0000666f7800"));
    const int64_t l[] = {1, 2, 3};
    CHECK(body_of(value::longs(l)) ==
          hex("070003000000010000000000000002000000000000000300000000000000"));
    const double f[] = {3.23, 6.46};
    CHECK(body_of(value::floats(f)) == hex("090002000000D7A3703D0AD70940D7A3703D0AD71940"));
    CHECK(body_of(value::list({})) == hex("000000000000"));
    CHECK(body_of(value::list({value::long_(42), value::generic_null(), value::symbol("foo")})) ==
          hex("000003000000f92a000000000000006500f5666f6f00"));
    CHECK(body_of(value::fixed(qtype::kInt, hex("0200000003000000"))) ==
          hex("0600020000000200000003000000"));
}

TEST_CASE("dict and table factories match the KX documentation bytes") {
    const value dict = value::dict(value::symbols({"a", "b"}),
                                   value::fixed(qtype::kInt, hex("0200000003000000")));
    CHECK(body_of(dict) == hex("630b0002000000610062000600020000000200000003000000"));
    const value table = value::table({"a", "b"}, {value::fixed(qtype::kInt, hex("02000000")),
                                                  value::fixed(qtype::kInt, hex("03000000"))});
    CHECK(body_of(table) ==
          hex("6200630b0002000000610062000000020000000600010000000200000006000100000003000000"));
    CHECK(table.count() == 1);
    CHECK(dict.count() == 2);
}

TEST_CASE("count() follows q") {
    CHECK(value::int_(5).count() == 1);
    CHECK(value::error("x").count() == 1);
    CHECK(value::generic_null().count() == 1);
    CHECK(value::string("abcd").count() == 4);
    CHECK(value::symbols({"a", "b", "c"}).count() == 3);
    CHECK(value::fixed(qtype::kGuid, std::vector<uint8_t>(32)).count() == 2);
    CHECK(value::list({value::int_(1), value::int_(2)}).count() == 2);
    CHECK(value::table({"a"}, {value::string("xyz")}).count() == 3);
    CHECK(value::table({}, {}).count() == 0);
}

TEST_CASE("encode_message: one buffer, little-endian header, decodes back") {
    const value v = value::list({value::symbol("upd"), value::symbol("trade"),
                                 value::table({"sym"}, {value::symbols({"a"})})});
    const std::vector<uint8_t> msg = encode_message(v, msg_type::sync);
    REQUIRE(msg.size() == kHeaderSize + encoded_size(v));
    CHECK(msg[0] == 1);
    CHECK(msg[1] == 1);
    CHECK(msg[2] == 0);
    CHECK(msg[3] == 0);
    CHECK(load_u32(msg.data() + 4, true) == msg.size());
    value back;
    frame_header h;
    REQUIRE(decode_message(msg, h, back).ok());
    CHECK(h.type == msg_type::sync);
    CHECK(back == v);

    std::vector<uint8_t> buf(msg.size());
    CHECK(encode_message_into(v, msg_type::sync, buf) == msg.size());
    CHECK(buf == msg);
    std::vector<uint8_t> small(msg.size() - 1);
    CHECK(encode_message_into(v, msg_type::sync, small) == 0);
}

TEST_CASE("write_error_message: hot-path error reply") {
    std::vector<uint8_t> buf(64, 0xee);
    CHECK(error_message_size("type") == 14);
    const uint64_t n = write_error_message("type", msg_type::response, buf);
    REQUIRE(n == 14);
    CHECK(std::vector<uint8_t>(buf.begin(), buf.begin() + 14) ==
          hex("010200000e000000807479706500"));
    CHECK(buf[14] == 0xee);
    std::vector<uint8_t> small(13);
    CHECK(write_error_message("type", msg_type::response, small) == 0);
    // An embedded NUL would end the text early and leave junk: the text is cut there.
    const std::string with_nul("ab\0cd", 5);
    const uint64_t m = write_error_message(with_nul, msg_type::response, buf);
    CHECK(m == 12);
    CHECK(load_u32(buf.data() + 4, true) == 12);
    value v;
    frame_header h;
    REQUIRE(decode_message(std::span<const uint8_t>(buf.data(), m), h, v).ok());
    CHECK(v == value::error("ab"));
}

TEST_CASE("symbols with a NUL are cut, keeping encoded_size exact") {
    const value v = value::symbols({std::string("a\0b", 3), "c"});
    CHECK(encoded_size(v) == 6 + 2 + 2);
    CHECK(body_of(v) == hex("0b00020000006100 6300"));
}

TEST_CASE("malformed trees still encode to valid q") {
    value d;
    d.type = qtype::kDict;
    d.raw.clear();
    CHECK(body_of(d) == hex("63 6500 6500"));
    value e = value::fixed(-qtype::kLong, {1});  // short raw: zero-padded to the width
    CHECK(body_of(e) == hex("f90100000000000000"));
    value en = value::fixed(20, {1, 2, 3, 4});  // enumeration: never on the wire
    CHECK(body_of(en) == hex("6500"));
    CHECK(walker(body_of(value::fixed(qtype::kInt, {1, 2, 3, 4, 5})), true).validate().ok());
}

TEST_CASE("body_writer: builds (`upd;`trade;data) from walked objects, reports no_space") {
    const auto data = hex("6200630b000100000061000000010000000700010000000100000000000000");
    object_view table;
    REQUIRE(walker(data, true).validate(&table).ok());

    std::vector<uint8_t> buf(64);
    body_writer bw(buf);
    bw.vector_head(qtype::kList, 0, 3).symbol("upd").symbol("trade").object(table);
    REQUIRE(bw.ok());
    value v;
    REQUIRE(decode(bw.written(), true, v).ok());
    CHECK(v.count() == 3);
    CHECK(v.items[0] == value::symbol("upd"));
    CHECK(body_of(v.items[2]) == data);

    body_writer all(buf);
    all.u8(1).u16(0x0201).u32(0x06050403).u64(0x0e0d0c0b0a090807).text("x").string("yz");
    REQUIRE(all.ok());
    CHECK(std::vector<uint8_t>(all.written().begin(), all.written().end()) ==
          hex("01 0102 03040506 0708090a0b0c0d0e 7800 0a0002000000797a"));
    body_writer enc(buf);
    enc.encode(value::int_(7));
    CHECK(std::vector<uint8_t>(enc.written().begin(), enc.written().end()) == hex("fa07000000"));

    std::vector<uint8_t> tiny(5);
    body_writer small(tiny);
    small.symbol("upd").symbol("x");
    CHECK_FALSE(small.ok());
    CHECK(small.result().code == errc::no_space);
    CHECK(small.result().offset == 5);
    CHECK(small.size() == 5);
    small.u8(0);  // stays failed, writes nothing
    CHECK(small.size() == 5);
}

}  // namespace
}  // namespace qgate::qipc
