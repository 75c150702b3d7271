// The gather state machine: completion, first error wins, timeouts, lost backends, hostile
// and compressed partial replies.

#include <doctest/doctest.h>

#include "join_test_util.h"

namespace qgate::join {
namespace {

using namespace test;

value big_table(const std::string& sym, int rows) {
    std::vector<std::string> s(rows, sym);
    std::vector<int64_t> n(rows, 7);
    return value::table({"sym", "n"}, {value::symbols(s), value::longs(n)});
}

TEST_CASE("completes when all parts arrived, in any order") {
    gather g;
    REQUIRE(g.start(3));
    const msg a = reply(longs({1})), b = reply(longs({2})), c = reply(longs({3}));
    CHECK(g.deliver(2, c) == gather_status::waiting);
    CHECK(g.deliver(0, a) == gather_status::waiting);
    CHECK(g.deliver(0, a) == gather_status::waiting);  // duplicate: ignored
    CHECK(g.discarded() == 1);
    CHECK(g.deliver(1, b) == gather_status::complete);
    join_output out;
    REQUIRE(raze(g.bodies(), {}, out) == join_error::ok);
    CHECK(decoded(out) == longs({1, 2, 3}));  // part order, not arrival order
    CHECK(!g.start(0));
    CHECK(!g.start(kPartsMax + 1));
}

TEST_CASE("first error wins; the rest is discarded") {
    gather g;
    REQUIRE(g.start(3));
    CHECK(g.deliver(0, reply(longs({1}))) == gather_status::waiting);
    CHECK(g.deliver(2, reply(value::error("type"))) == gather_status::failed);
    CHECK(g.reason() == fail_reason::q_error);
    CHECK(g.error() == "type");
    CHECK(g.failed_part() == 2);
    CHECK(g.deliver(1, reply(value::error("later"))) == gather_status::failed);
    CHECK(g.error() == "type");
    CHECK(g.discarded() == 1);
}

TEST_CASE("timeout and lost backends") {
    gather g;
    REQUIRE(g.start(2, 1000));
    CHECK(g.tick(999) == gather_status::waiting);
    CHECK(g.deliver(0, reply(longs({1}))) == gather_status::waiting);
    CHECK(g.tick(1000) == gather_status::timed_out);
    CHECK(g.error() == kTimeoutText);
    CHECK(g.deliver(1, reply(longs({2}))) == gather_status::timed_out);
    REQUIRE(g.start(2));  // no deadline
    CHECK(g.tick(1'000'000'000) == gather_status::waiting);
    CHECK(g.lost(1, "backend rdb server handling query closed the connection") ==
          gather_status::failed);
    CHECK(g.reason() == fail_reason::backend_lost);
    CHECK(g.error() == "backend rdb server handling query closed the connection");
}

TEST_CASE("hostile partial replies fail the gather with a specific text") {
    const msg good = reply(longs({1, 2}));
    gather g;
    msg cut(good.begin(), good.end() - 1);
    REQUIRE(g.start(1));
    CHECK(g.deliver(0, cut) == gather_status::failed);  // shorter than its header says
    CHECK(g.reason() == fail_reason::bad_reply);
    CHECK(g.error() == "qgate: malformed reply from backend");
    msg lying = good;
    lying[8 + 2] = 9;  // count 9 (vector longer than the message): the join finds it
    REQUIRE(g.start(1));
    CHECK(g.deliver(0, lying) == gather_status::complete);
    join_output out;
    CHECK(raze(g.bodies(), {}, out) == join_error::bad_partial);
    CHECK(list(g.bodies(), {}, out) == join_error::bad_partial);
    CHECK(first(g.bodies(), {}, out) == join_error::bad_partial);
    msg bad_error = reply(value::error("type"));
    bad_error.back() = 'x';  // error text without its NUL
    REQUIRE(g.start(1));
    CHECK(g.deliver(0, bad_error) == gather_status::failed);
    CHECK(g.reason() == fail_reason::bad_reply);
    msg request = good;
    request[1] = 1;  // a sync request, not a response
    REQUIRE(g.start(1));
    CHECK(g.deliver(0, request) == gather_status::failed);
    CHECK(g.error() == "qgate: backend sent a non-response message");
    msg z = compressed(reply(big_table("AAPL", 300)));
    z.resize(z.size() - 5);  // the stream ends before the output is full
    z[4] = static_cast<uint8_t>(z.size());  // keep the frame length consistent
    z[5] = static_cast<uint8_t>(z.size() >> 8);
    REQUIRE(g.start(1));
    CHECK(g.deliver(0, z) == gather_status::failed);
    CHECK(g.error() == "qgate: bad compressed reply from backend");
}

TEST_CASE("compressed partials are decompressed for the join") {
    const value a = big_table("AAPL", 300), b = big_table("MSFT", 200);
    const msg za = compressed(reply(a)), pb = reply(b);
    gather g;
    REQUIRE(g.start(2));
    CHECK(g.deliver(0, za) == gather_status::waiting);
    CHECK(g.deliver(1, pb) == gather_status::complete);
    CHECK(g.decompressed_bytes() == reply(a).size());
    join_output out;
    REQUIRE(raze(g.bodies(), {}, out) == join_error::ok);
    const value v = decoded(out);
    CHECK(v.count() == 500);
    CHECK(v.items[0].items[1].items[0].syms[299] == "AAPL");
    CHECK(v.items[0].items[1].items[0].syms[300] == "MSFT");
    CHECK(out.column_bytes_copied == 0);
}

TEST_CASE("a compressed part past the inflate limits fails the gather unread") {
    const msg plain = reply(big_table("AAPL", 300));
    const msg z = compressed(plain);
    gather g;
    // One byte short of its plain length: refused, counted, with its own text.
    REQUIRE(g.start(2, -1, kJoinLengthMax, {plain.size() - 1, 0}));
    CHECK(g.deliver(0, z) == gather_status::failed);
    CHECK(g.reason() == fail_reason::bad_reply);
    CHECK(g.error() == "qgate: backend reply over the inflate limit");
    CHECK(g.inflate_refused() == 1);
    CHECK(g.decompressed_bytes() == 0);
    // The ratio bound: below what this part inflates per byte, refused; at its size, joined.
    REQUIRE(g.start(1, -1, kJoinLengthMax, {plain.size(), plain.size() / z.size() - 1}));
    CHECK(g.deliver(0, z) == gather_status::failed);
    CHECK(g.inflate_refused() == 1);
    REQUIRE(g.start(1, -1, kJoinLengthMax, {plain.size(), 0}));
    CHECK(g.deliver(0, z) == gather_status::complete);
    CHECK(g.inflate_refused() == 0);
    CHECK(g.decompressed_bytes() == plain.size());
}

TEST_CASE("the joined reply is compressed when q would compress it") {
    const std::vector<msg> m = {reply(big_table("AAPL", 300)), reply(big_table("IBM", 300))};
    join_output out;
    REQUIRE(raze(views(m), {}, out) == join_error::ok);
    const uint64_t plain = out.total_bytes;
    CHECK(q_would_compress(plain, false));
    CHECK(!q_would_compress(plain, true));
    CHECK(!q_would_compress(2000, false));
    CHECK(!compress_if_q_would(out, true));  // local peer: never
    CHECK(out.column_bytes_copied == 0);
    REQUIRE(compress_if_q_would(out, false));
    CHECK(out.compressed);
    CHECK(out.total_bytes < plain / 2);
    CHECK(out.iov.size() == 1);
    CHECK(out.column_bytes_copied == out.referenced_bytes);  // the one copying path
    const value v = decoded(out);
    CHECK(v.count() == 600);
    // Incompressible: stays gathered.
    std::vector<int64_t> noise(400);
    uint64_t x = 88172645463325252ull;
    for (auto& n : noise) n = static_cast<int64_t>(x ^= x << 13, x ^= x >> 7, x ^= x << 17);
    const std::vector<msg> r = {reply(value::longs(noise)), reply(value::longs(noise))};
    REQUIRE(raze(views(r), {}, out) == join_error::ok);
    CHECK(!compress_if_q_would(out, false));
    CHECK(!out.compressed);
    CHECK(decoded(out).count() == 800);
}

}  // namespace
}  // namespace qgate::join
