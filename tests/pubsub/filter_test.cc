// Filtering and republishing: the unfiltered update is the received bytes themselves, a
// filtered one decodes to exactly the selected rows, nothing is made when nothing matches.

#include <doctest/doctest.h>

#include <algorithm>

#include "pubsub_test_util.h"

namespace qgate::pubsub {
namespace {

using test::body;
using test::value;
using strings = std::vector<std::string>;

/// The rows of column `c` whose mask entry is set (the value-model reference for a filter).
value select_column(const value& c, const std::vector<bool>& keep) {
    value out = c;
    if (c.type == qipc::qtype::kSymbol) {
        out.syms.clear();
        for (size_t i = 0; i < keep.size(); ++i) if (keep[i]) out.syms.push_back(c.syms[i]);
    } else if (c.type == qipc::qtype::kList) {
        out.items.clear();
        for (size_t i = 0; i < keep.size(); ++i) if (keep[i]) out.items.push_back(c.items[i]);
    } else {
        const size_t w = size_t(qipc::elem_size(c.type));
        out.raw.clear();
        for (size_t i = 0; i < keep.size(); ++i) {
            if (keep[i]) out.raw.insert(out.raw.end(), c.raw.begin() + i * w,
                                        c.raw.begin() + (i + 1) * w);
        }
    }
    return out;
}

/// `select from t where sym in syms` on the value model.
value select_table(const value& t, const strings& syms) {
    const value& cols = t.items[0].items[1];
    const value& names = t.items[0].items[0];
    size_t sym_i = 0;
    while (names.syms[sym_i] != "sym") ++sym_i;
    std::vector<bool> keep;
    for (const std::string& s : cols.items[sym_i].syms) {
        keep.push_back(std::find(syms.begin(), syms.end(), s) != syms.end());
    }
    value out = t;
    for (value& c : out.items[0].items[1].items) c = select_column(c, keep);
    return out;
}

/// Everything one update needs: the received message, its view and a scratch selection.
struct fixture {
    std::vector<uint8_t> msg;
    update_view u;
    row_selection scratch;
    publish_ctx ctx;
    explicit fixture(const value& v, const schema_store* s = nullptr)
        : msg(qipc::encode_message(v, qipc::msg_type::async)) {
        REQUIRE(parse_update(std::span(msg).subspan(8), true, u, s).ok());
        ctx.update = &u;
        ctx.received = update_ref::copy_of(msg);
        ctx.scratch = &scratch;
        if (s != nullptr && s->find(u.table) >= 0) {
            ctx.names = s->column_names(uint32_t(s->find(u.table)));
        }
    }
    update_ref publish(const sym_filter& f, publish_kind& kind) {
        update_ref out;
        const status st = publish_for(ctx, f, kind, out);
        REQUIRE_MESSAGE(st.ok(), errc_name(st.code));
        return out;
    }
};

const strings kSyms = {"AAPL", "MSFT", "AAPL", "IBM", "MSFT", "AAPL"};

TEST_CASE("all syms: the received bytes themselves, byte for byte, no new buffer") {
    fixture fx(test::upd("trade", test::trades(kSyms)));
    publish_kind kind{};
    const update_ref out = fx.publish(sym_filter::all(), kind);
    CHECK(kind == publish_kind::as_received);
    CHECK(out.same_as(fx.ctx.received));
    CHECK(std::equal(out.bytes().begin(), out.bytes().end(), fx.msg.begin(), fx.msg.end()));
    CHECK(fx.ctx.received.use_count() == 2);
    // A filter that happens to select every row gets the received buffer as well.
    const update_ref again = fx.publish(sym_filter::of({"AAPL", "IBM", "MSFT", "ZZZ"}), kind);
    CHECK(kind == publish_kind::as_received);
    CHECK(again.same_as(fx.ctx.received));
}

TEST_CASE("a sym filter re-encodes once into an exact-size buffer holding exactly its rows") {
    const value t = test::trades(kSyms, 100);
    fixture fx(test::upd("trade", t));
    for (const strings& syms : {strings{"AAPL"}, strings{"MSFT", "IBM"}, strings{"IBM"}}) {
        publish_kind kind{};
        const update_ref out = fx.publish(sym_filter::of(syms), kind);
        CHECK(kind == publish_kind::encoded);
        REQUIRE(out);
        const value got = test::decode_msg(out.bytes());
        CHECK(got == test::upd("trade", select_table(t, syms)));
        CHECK(out.size() == publish_size(fx.u, fx.scratch));  // exact size, nothing spare
        CHECK(out.use_count() == 1);
    }
}

TEST_CASE("nothing selected: no buffer, nothing to send") {
    fixture fx(test::upd("trade", test::trades(kSyms)));
    publish_kind kind{};
    CHECK_FALSE(fx.publish(sym_filter::of({"GOOG"}), kind));
    CHECK(kind == publish_kind::none);
    CHECK_FALSE(fx.publish(sym_filter::of({}), kind));
    fixture empty(test::upd("trade", test::trades({})));
    CHECK_FALSE(empty.publish(sym_filter::all(), kind));  // q sends nothing for 0 rows
    CHECK(kind == publish_kind::none);
}

TEST_CASE("every column kind: strings (general list), chars, guids, bools; attributes kept") {
    std::vector<value> strs = {value::string("a"), value::string("bb"), value::string(""),
                               value::string("dddd")};
    std::vector<uint8_t> guids(64);
    for (size_t i = 0; i < guids.size(); ++i) guids[i] = uint8_t(i);
    value time = test::fixed_vector(qipc::qtype::kTimestamp, {1, 2, 3, 4}, 8);
    time.attr = 1;  // `s#: still sorted after selection
    const value t = value::table(
        {"time", "sym", "cond", "ex", "id", "ok"},
        {time, value::symbols({"x", "y", "x", "z"}), value::list(strs),
         value::fixed(qipc::qtype::kChar, {'N', 'O', 'P', 'Q'}),
         value::fixed(qipc::qtype::kGuid, guids), value::fixed(qipc::qtype::kBool, {1, 0, 1, 1})});
    fixture fx(test::upd("t", t));
    publish_kind kind{};
    const update_ref out = fx.publish(sym_filter::of({"x", "z"}), kind);
    const value got = test::decode_msg(out.bytes());
    CHECK(got == test::upd("t", select_table(t, {"x", "z"})));
    CHECK(got.items[2].items[0].items[1].items[0].attr == 1);
}

TEST_CASE(".u.upd columns become a table named by the schema (as tick.q publishes)") {
    schema_store s;
    const value schema = test::trades({});
    REQUIRE(s.add("trade", body(schema)).ok());
    const value t = test::trades(kSyms, 7);
    fixture fx(test::upd("trade", test::trade_columns(kSyms, 7), ".u.upd"), &s);
    CHECK_FALSE(fx.u.forwardable);
    publish_kind kind{};
    const update_ref all1 = fx.publish(sym_filter::all(), kind);
    CHECK(kind == publish_kind::encoded);
    CHECK(test::decode_msg(all1.bytes()) == test::upd("trade", t));
    // The all-rows encoding is made once per update and shared by every all-rows filter.
    const update_ref all2 = fx.publish(sym_filter::of({"AAPL", "IBM", "MSFT"}), kind);
    CHECK(all2.same_as(all1));
    const update_ref some = fx.publish(sym_filter::of({"IBM"}), kind);
    CHECK(test::decode_msg(some.bytes()) == test::upd("trade", select_table(t, {"IBM"})));
}

TEST_CASE("a column list wider or narrower than the schema is schema_mismatch") {
    schema_store s;
    REQUIRE(s.add("trade", body(value::table({"sym"}, {value::symbols({})}))).ok());
    const auto b = body(test::upd("trade", test::trade_columns({"A"}), ".u.upd"));
    update_view u;
    REQUIRE(parse_update(b, true, u).ok());  // sym at the default index 1
    row_selection sel;
    publish_ctx ctx{&u, {}, s.column_names(0), &sel, {}};
    publish_kind kind{};
    update_ref out;
    CHECK(publish_for(ctx, sym_filter::all(), kind, out).code == errc::schema_mismatch);
    CHECK_FALSE(out);
}

/// tick.q's schema shape: time is a timespan.
value tick_schema() {
    return value::table({"time", "sym", "price"},
                        {test::fixed_vector(qipc::qtype::kTimespan, {}, 8), value::symbols({}),
                         value::floats(std::vector<double>{})});
}

TEST_CASE("acting as a tickerplant: .u.upd without time gets tick.q's time column") {
    schema_store s;
    REQUIRE(s.add("t", body(tick_schema())).ok());
    const int64_t now = 34200000000000;  // 09:30:00 as a timespan
    const value cols = value::list({value::symbols({"A", "B", "A"}),
                                    value::floats(std::vector<double>{1, 2, 3})});
    fixture fx(test::upd("t", cols, ".u.upd"), &s);
    CHECK(fx.u.time_missing);
    CHECK(fx.u.sym_column == 0);
    publish_kind kind{};
    update_ref out;
    CHECK(publish_for(fx.ctx, sym_filter::of({"A"}), kind, out).code == errc::schema_mismatch);
    fx.ctx.add_time = true;
    fx.ctx.time_ns = now;
    out = fx.publish(sym_filter::of({"A"}), kind);
    const value want = value::table(
        {"time", "sym", "price"},
        {test::fixed_vector(qipc::qtype::kTimespan, {now, now}, 8), value::symbols({"A", "A"}),
         value::floats(std::vector<double>{1, 3})});
    CHECK(test::decode_msg(out.bytes()) == test::upd("t", want));
    // One row of atoms: `a,x`, then tabled.
    fixture row(test::upd("t", value::list({value::symbol("B"), value::float_(2)}), ".u.upd"),
                &s);
    row.ctx.add_time = true;
    row.ctx.time_ns = now;
    out = row.publish(sym_filter::all(), kind);
    const value one = value::table(
        {"time", "sym", "price"},
        {test::fixed_vector(qipc::qtype::kTimespan, {now}, 8), value::symbols({"B"}),
         value::floats(std::vector<double>{2})});
    CHECK(test::decode_msg(out.bytes()) == test::upd("t", one));
    // Without names (untabled), the time still leads: a column list and a row.
    row.ctx.names = {};
    row.ctx.all_rows.reset();
    out = row.publish(sym_filter::all(), kind);
    CHECK(test::decode_msg(out.bytes()) ==
          test::upd("t", value::list({test::fixed_vector(-qipc::qtype::kTimespan, {now}, 8),
                                      value::symbol("B"), value::float_(2)})));
    fx.ctx.names = {};
    out = fx.publish(sym_filter::of({"B"}), kind);
    CHECK(test::decode_msg(out.bytes()) ==
          test::upd("t", value::list({test::fixed_vector(qipc::qtype::kTimespan, {now}, 8),
                                      value::symbols({"B"}),
                                      value::floats(std::vector<double>{2})})));
}

TEST_CASE("a feed that sends its own time (or the full width) is published as is") {
    schema_store s;
    REQUIRE(s.add("t", body(tick_schema())).ok());
    const value cols = value::list({test::fixed_vector(qipc::qtype::kTimespan, {5}, 8),
                                    value::symbols({"A"}), value::floats(std::vector<double>{1})});
    fixture fx(test::upd("t", cols, ".u.upd"), &s);
    CHECK_FALSE(fx.u.time_missing);
    CHECK(fx.u.sym_column == 1);
    fx.ctx.add_time = true;
    publish_kind kind{};
    const update_ref out = fx.publish(sym_filter::all(), kind);
    CHECK(test::decode_msg(out.bytes()) ==
          test::upd("t", value::table({"time", "sym", "price"}, cols.items)));
    // An upstream tickerplant's `upd never gets a time column.
    fixture up(test::upd("t", value::table({"sym"}, {value::symbols({"A"})})), &s);
    CHECK_FALSE(up.u.time_missing);
}

TEST_CASE("columns without a known schema are republished as a (filtered) list of columns") {
    fixture fx(test::upd("trade", test::trade_columns(kSyms), ".u.upd"));
    publish_kind kind{};
    const update_ref some = fx.publish(sym_filter::of({"MSFT"}), kind);
    const value picked = select_table(test::trades(kSyms), {"MSFT"});
    const value want = value::list(picked.items[0].items[1].items);
    CHECK(test::decode_msg(some.bytes()) == test::upd("trade", want));
}

TEST_CASE("a row of atoms: all or nothing; with a schema it becomes a one-row table") {
    const value row = value::list({test::fixed_vector(-qipc::qtype::kTimestamp, {5}, 8),
                                   value::symbol("IBM"), value::float_(1.5), value::long_(10),
                                   value::long_(3)});
    schema_store s;
    REQUIRE(s.add("trade", body(test::trades({}))).ok());
    fixture fx(test::upd("trade", row, ".u.upd"), &s);
    publish_kind kind{};
    CHECK_FALSE(fx.publish(sym_filter::of({"AAPL"}), kind));
    const update_ref one = fx.publish(sym_filter::of({"IBM"}), kind);
    const value t = test::trades({"IBM"});
    value want = t;
    want.items[0].items[1].items = {test::fixed_vector(qipc::qtype::kTimestamp, {5}, 8),
                                    value::symbols({"IBM"}),
                                    value::floats(std::vector<double>{1.5}),
                                    value::longs(std::vector<int64_t>{10}),
                                    value::longs(std::vector<int64_t>{3})};
    CHECK(test::decode_msg(one.bytes()) == test::upd("trade", want));
    fixture bare(test::upd("trade", row, ".u.upd"));
    const update_ref as_is = bare.publish(sym_filter::all(), kind);
    CHECK(test::decode_msg(as_is.bytes()) == test::upd("trade", row));
}

TEST_CASE("big-endian updates: forwarded as received, but cannot be re-encoded") {
    // (`upd;`t;([]sym:`a`b)) big-endian
    const std::vector<uint8_t> msg = {
        0x00, 0x00, 0x00, 0x00, 0, 0, 0, 41,  // BE header, length 41
        0x00, 0x00, 0, 0, 0, 3, 0xf5, 'u', 'p', 'd', 0, 0xf5, 't', 0,
        0x62, 0x00, 0x63, 0x0b, 0x00, 0, 0, 0, 1, 's', 'y', 'm', 0,
        0x00, 0x00, 0, 0, 0, 1, 0x0b, 0x00, 0, 0, 0, 2, 'a', 0, 'b', 0};
    update_view u;
    REQUIRE(parse_update(std::span(msg).subspan(8), false, u).ok());
    CHECK(u.rows == 2);
    row_selection sel;
    publish_ctx ctx{&u, update_ref::copy_of(msg), {}, &sel, {}};
    publish_kind kind{};
    update_ref out;
    REQUIRE(publish_for(ctx, sym_filter::all(), kind, out).ok());
    CHECK(kind == publish_kind::as_received);
    CHECK(publish_for(ctx, sym_filter::of({"a"}), kind, out).code == errc::big_endian);
}

TEST_CASE("write_publish refuses a short buffer; select_rows reuses its scratch") {
    fixture fx(test::upd("trade", test::trades(kSyms)));
    row_selection sel;
    CHECK(select_rows(fx.u, sym_filter::of({"AAPL"}), sel) == 3);
    const uint64_t size = publish_size(fx.u, sel);
    std::vector<uint8_t> buf(size);
    CHECK(write_publish(fx.u, sel, std::span(buf).first(size - 1)) == 0);
    CHECK(write_publish(fx.u, sel, buf) == size);
    const uint8_t* mask = sel.mask.data();
    CHECK(select_rows(fx.u, sym_filter::of({"IBM"}), sel) == 1);
    CHECK(sel.mask.data() == mask);  // no reallocation for an update of the same size
}

}  // namespace
}  // namespace qgate::pubsub
