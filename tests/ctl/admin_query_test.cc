// The admin query language on bytes alone: a query is parsed once into (name, arguments) in
// every form q clients send, the name is looked up in the table of admin functions, and a name
// not in it (or a query that is no call) keeps the "unknown admin query" error text.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ctl/admin_query.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"

using namespace qgate;
using namespace qgate::ctl;
using qipc::value;

namespace {

constexpr stat_desc kOpen{"conns_open", stat_kind::gauge, "connections", "open now", {}};
constexpr stat_desc kLoad{"backend_load", stat_kind::gauge, "calls", "queued", {"backend"}};

stat_list two_stats() {
    return {{kOpen, {}, 5}, {kLoad, {"rdb1"}, 2}, {kLoad, {"hdb_2"}, 0}};
}

// admin_reply to `query` sent as a sync message body, decoded.
value reply_to(const value& query) {
    const std::vector<uint8_t> msg = qipc::encode_message(query, qipc::msg_type::sync);
    const std::vector<uint8_t> reply = admin_reply(
        std::span(msg).subspan(qipc::kHeaderSize), true, std::function<stat_list()>(two_stats));
    qipc::frame_header h;
    REQUIRE(qipc::parse_header(reply, h));
    CHECK(h.type == qipc::msg_type::response);
    value v;
    REQUIRE(qipc::decode(std::span(reply).subspan(qipc::kHeaderSize), h.little_endian, v));
    return v;
}

std::string error_of(const value& v) {
    REQUIRE(v.type == qipc::qtype::kError);
    REQUIRE(v.syms.size() == 1);
    return v.syms[0];
}

// A table's column `name` (flip: items[0] is the dict of names ! columns).
const value& column(const value& table, const std::string& name) {
    REQUIRE(table.type == qipc::qtype::kTable);
    const value& d = table.items.at(0);
    const std::vector<std::string>& names = d.items.at(0).syms;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == name) return d.items.at(1).items.at(i);
    }
    FAIL("no column " << name);
    return table;
}

}  // namespace

TEST_CASE("parse_admin_call: the string forms") {
    struct form {
        const char* text;
        const char* args;
    };
    for (const form f : {form{".qgate.stats[]", ""}, form{".qgate.stats[::]", "::"},
                         form{".qgate.stats", ""}, form{"  .qgate.stats [`a;1] ;\n", "`a;1"},
                         form{"\t.qgate.stats;", ""}}) {
        INFO(f.text);
        const value q = value::string(f.text);
        const std::optional<admin_call> c = parse_admin_call(q);
        REQUIRE(c.has_value());
        CHECK(c->name == ".qgate.stats");
        CHECK(c->args.text == f.args);
        CHECK(c->args.items.empty());
    }
    // Another name parses as a call too: the table, not the parser, decides what is served.
    const value other = value::string(".qgate.statsx[]");
    REQUIRE(parse_admin_call(other).has_value());
    CHECK(parse_admin_call(other)->name == ".qgate.statsx");
}

TEST_CASE("parse_admin_call: the general-list forms") {
    const value sym = value::list({value::symbol(".qgate.stats"), value::generic_null()});
    std::optional<admin_call> c = parse_admin_call(sym);
    REQUIRE(c.has_value());
    CHECK(c->name == ".qgate.stats");
    REQUIRE(c->args.items.size() == 1);
    CHECK(c->args.items[0] == value::generic_null());
    CHECK(c->args.text.empty());

    const value str =
        value::list({value::string(".qgate.stats"), value::long_(1), value::long_(2)});
    c = parse_admin_call(str);
    REQUIRE(c.has_value());
    CHECK(c->name == ".qgate.stats");
    CHECK(c->args.items.size() == 2);

    const value alone = value::list({value::symbol(".qgate.stats")});  // enlist `.qgate.stats
    c = parse_admin_call(alone);
    REQUIRE(c.has_value());
    CHECK(c->args.items.empty());
}

TEST_CASE("parse_admin_call: what is no call") {
    for (const char* text : {".qgate.stats x", ".qgate.stats[]x", ".qgate.stats[", "f ]"}) {
        INFO(text);
        CHECK_FALSE(parse_admin_call(value::string(text)).has_value());
    }
    CHECK_FALSE(parse_admin_call(value::symbol(".qgate.stats")).has_value());  // an atom
    CHECK_FALSE(parse_admin_call(value::long_(1)).has_value());
    CHECK_FALSE(parse_admin_call(value::list({})).has_value());
    CHECK_FALSE(parse_admin_call(value::list({value::long_(1), value::long_(2)})).has_value());
}

TEST_CASE("the admin function table: names unique, each with a handler, lookup by exact name") {
    const auto fns = admin_functions();
    REQUIRE_FALSE(fns.empty());
    for (std::size_t i = 0; i < fns.size(); ++i) {
        CHECK((fns[i].handler != nullptr));
        CHECK(find_admin_function(fns[i].name) == &fns[i]);
        for (std::size_t j = i + 1; j < fns.size(); ++j) CHECK(fns[i].name != fns[j].name);
    }
    REQUIRE(find_admin_function(kStatsQuery) != nullptr);
    CHECK(find_admin_function(kStatsQuery)->name == ".qgate.stats");
    for (const char* name : {"", ".qgate.statsx", ".qgate.Stats", ".qgate.stat", "qgate.stats"}) {
        CHECK_MESSAGE(find_admin_function(name) == nullptr, name);
    }
}

TEST_CASE("admin_reply: every accepted form answers the stats table with flat names") {
    for (const value& q :
         {value::string(".qgate.stats[]"), value::string(".qgate.stats[::]"),
          value::string(".qgate.stats"), value::string(" .qgate.stats [] ;"),
          value::list({value::symbol(".qgate.stats"), value::generic_null()}),
          value::list({value::string(".qgate.stats"), value::generic_null()})}) {
        const value v = reply_to(q);
        CHECK(column(v, "name").syms ==
              std::vector<std::string>{"conns_open", "backend_load_rdb1", "backend_load_hdb_2"});
        const int64_t values[] = {5, 2, 0};
        CHECK(column(v, "value") == value::longs(values));
    }
}

TEST_CASE("admin_reply: unknown names and non-calls keep the exact error texts") {
    CHECK(error_of(reply_to(value::string("1+1"))) == "qgate: unknown admin query 1+1");
    CHECK(error_of(reply_to(value::string(".qgate.nope[]"))) ==
          "qgate: unknown admin query .qgate.nope[]");
    CHECK(error_of(reply_to(value::string(".qgate.stats x"))) ==
          "qgate: unknown admin query .qgate.stats x");
    CHECK(error_of(reply_to(value::string(""))) == "qgate: unknown admin query ");
    CHECK(error_of(reply_to(value::list({value::symbol(".qgate.nope"), value::long_(1)}))) ==
          "qgate: unknown admin query (`.qgate.nope;1)");
    CHECK(error_of(reply_to(value::symbol(".qgate.stats"))) ==
          "qgate: unknown admin query `.qgate.stats");
    const std::string long_text = ".qgate.nope[" + std::string(300, 'x') + "]";
    const std::string shown = error_of(reply_to(value::string(long_text)));
    CHECK(shown == "qgate: unknown admin query " + long_text.substr(0, 200) + "...");
}

// Found by tests/fuzz/fuzz_admin_query.cc: a query text holding a NUL was echoed into the
// error, write_error_message cut the text there, and the reply kept the uncut size: zero bytes
// after the message that the client would read as the start of its next one.
TEST_CASE("admin_reply: a query with a NUL gets one whole error message, nothing after it") {
    const std::string text("-\0\x01", 3);
    const std::vector<uint8_t> msg =
        qipc::encode_message(value::string(text), qipc::msg_type::sync);
    const std::vector<uint8_t> reply = admin_reply(
        std::span(msg).subspan(qipc::kHeaderSize), true, std::function<stat_list()>(two_stats));
    qipc::frame_header h;
    REQUIRE(qipc::parse_header(reply, h));
    CHECK(h.length == reply.size());
    value v;
    REQUIRE(qipc::decode(std::span(reply).subspan(qipc::kHeaderSize), h.little_endian, v));
    CHECK(error_of(v) == "qgate: unknown admin query -");
}
