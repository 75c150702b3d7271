// Refcounted buffers, the per-shard registry, the publisher's filter directory, backlogs and
// the slow-subscriber policies, and a two-shard fan-out wired the way the engine will.

#include <doctest/doctest.h>

#include <map>
#include <thread>

#include "pubsub_test_util.h"

namespace qgate::pubsub {
namespace {

using test::value;

update_ref bytes_of(size_t n, uint8_t fill = 7) {
    return update_ref::copy_of(std::vector<uint8_t>(n, fill));
}

TEST_CASE("update_builder: shrink ends the buffer where told, never grows it") {
    update_builder b(24);
    REQUIRE(b.ok());
    uint8_t* p = b.data().data();
    b.data()[7] = 7;
    b.shrink(30);
    CHECK(b.data().size() == 24);
    b.shrink(16);
    CHECK(b.data().size() == 16);
    CHECK(b.data().data() == p);  // nothing moved
    update_ref r = std::move(b).freeze();
    CHECK(r.size() == 16);
    CHECK(r.bytes()[7] == 7);
}

TEST_CASE("update_ref: one allocation, shared, released by the last holder") {
    update_builder b(16);
    REQUIRE(b.ok());
    b.data()[0] = 42;
    update_ref a = std::move(b).freeze();
    CHECK(a.use_count() == 1);
    CHECK(a.size() == 16);
    update_ref c = a;
    CHECK(a.use_count() == 2);
    CHECK(c.bytes()[0] == 42);
    update_ref moved = std::move(c);
    CHECK(a.use_count() == 2);
    CHECK_FALSE(c);
    moved.reset();
    CHECK(a.use_count() == 1);
    CHECK_FALSE(update_ref{});
}

TEST_CASE("update_ref::adopt calls the owner's release once, from the last holder's thread") {
    static int released = 0;
    static const uint8_t* released_data = nullptr;
    const std::vector<uint8_t> recv = {1, 2, 3};
    auto release = [](void* ctx, const uint8_t* data, uint64_t size) {
        ++*static_cast<int*>(ctx);
        released_data = data;
        CHECK(size == 3);
    };
    {
        update_ref r = update_ref::adopt(recv, release, &released);
        CHECK(r.bytes().data() == recv.data());  // the received bytes themselves
        std::vector<update_ref> holders(8, r);
        std::thread t([h = std::move(holders)]() mutable { h.clear(); });
        t.join();
        CHECK(released == 0);
    }
    CHECK(released == 1);
    CHECK(released_data == recv.data());
}

TEST_CASE("update_ref survives concurrent copies and drops on two threads") {
    update_ref r = bytes_of(64);
    {
        auto churn = [r]() {
            for (int i = 0; i < 100000; ++i) {
                update_ref c = r;
                c.reset();
            }
        };
        std::thread a(churn), b(churn);
        a.join();
        b.join();
        CHECK(r.use_count() == 2);  // the lambda's own copy
    }
    CHECK(r.use_count() == 1);
}

TEST_CASE("registry: groups by distinct filter, replace on resubscribe, unsubscribe all") {
    registry reg;
    CHECK_FALSE(reg.subscribe(1, "trade", sym_filter::all()));
    reg.subscribe(2, "trade", sym_filter::of({"B", "A"}));
    reg.subscribe(3, "trade", sym_filter::of({"A", "B", "A"}));  // same filter as 2
    reg.subscribe(3, "quote", sym_filter::all());
    auto g = reg.groups("trade");
    REQUIRE(g.size() == 2);
    CHECK(g[0].filter.is_all());
    CHECK(g[0].subscribers == std::vector<subscriber_id>{1});
    CHECK(g[1].subscribers == std::vector<subscriber_id>{2, 3});
    CHECK(reg.subscriber_count() == 3);
    sym_filter prev;
    CHECK(reg.subscribe(2, "trade", sym_filter::of({"C"}), &prev));  // like u.q: del, then add
    CHECK(prev == sym_filter::of({"A", "B"}));
    CHECK(reg.groups("trade").size() == 3);
    CHECK(*reg.filter_of(2, "trade") == sym_filter::of({"C"}));
    CHECK(reg.unsubscribe_all(3) == 2);
    CHECK(reg.groups("quote").empty());
    CHECK(reg.groups("trade").size() == 2);  // the A,B group went with its last subscriber
    CHECK(reg.filter_of(3, "trade") == nullptr);
    CHECK(reg.find_group("trade", sym_filter::of({"C"}))->subscribers ==
          std::vector<subscriber_id>{2});
    CHECK(reg.find_group("trade", sym_filter::of({"D"})) == nullptr);
    CHECK(reg.find_group("nope", sym_filter::all()) == nullptr);
    CHECK(reg.unsubscribe(2, "trade"));
    CHECK_FALSE(reg.unsubscribe(2, "trade"));
    CHECK(reg.unsubscribe_all(99) == 0);
    CHECK(reg.tables_of(1).size() == 1);
    int seen = 0;
    reg.for_each_subscriber([&](subscriber_id) { ++seen; });
    CHECK(seen == 1);
}

TEST_CASE("errc_name: every error's name is its enumerator's spelling") {
    const std::vector<std::string> expected = {"ok",
                                               "malformed",
                                               "not_a_call",
                                               "wrong_function",
                                               "rank",
                                               "bad_table_arg",
                                               "bad_sym_arg",
                                               "bad_text",
                                               "bad_data",
                                               "ragged_columns",
                                               "no_sym_column",
                                               "sym_not_symbols",
                                               "unknown_table",
                                               "schema_mismatch",
                                               "big_endian",
                                               "no_space",
                                               "no_memory"};
    REQUIRE(expected.size() == kErrcCount);
    for (size_t i = 0; i < kErrcCount; ++i) {
        CAPTURE(i);
        CHECK(std::string(errc_name(static_cast<errc>(i))) == expected[i]);
    }
    CHECK(std::string(errc_name(static_cast<errc>(kErrcCount))) == "unknown");  // out of range
}

// The named counters, as the X-macro declares them: name and address in a fresh struct.
std::vector<std::pair<std::string, const uint64_t*>> named_counters(const pubsub_stats& st) {
    std::vector<std::pair<std::string, const uint64_t*>> out;
#define NAMED_COUNTER(name, help) out.emplace_back(#name, &st.name);
    QGATE_PUBSUB_STATS(NAMED_COUNTER)
#undef NAMED_COUNTER
    return out;
}

TEST_CASE("pubsub_stats: count(e) bumps errors[e] alone; ok counts nothing") {
    const std::vector<std::string> names = {"sub_calls", "subscriptions",    "updates_in",
                                            "encodings", "encoded_bytes",    "as_received",
                                            "no_rows",   "deliveries",       "backlog_overflows",
                                            "conflated", "slow_disconnects", "ends"};
    for (size_t e = 0; e < kErrcCount; ++e) {
        const std::string counted = errc_name(static_cast<errc>(e));
        CAPTURE(counted);
        pubsub_stats st;
        st.count(static_cast<errc>(e));
        st.count(static_cast<errc>(e));
        for (size_t i = 0; i < kErrcCount; ++i) {
            CAPTURE(i);
            CHECK(st.errors[i] == (i == e && e != 0 ? 2u : 0u));
        }
        const auto counters = named_counters(st);
        REQUIRE(counters.size() == names.size());
        for (size_t i = 0; i < counters.size(); ++i) {
            CHECK(counters[i].first == names[i]);
            CHECK_MESSAGE(*counters[i].second == 0, counters[i].first << " was bumped");
        }
    }
}

TEST_CASE("sym_filter keys: equal sets equal keys, different sets (almost surely) differ") {
    CHECK(sym_filter::of({"B", "A", "B"}).key() == sym_filter::of({"A", "B"}).key());
    CHECK(sym_filter::of({"ab"}).key() != sym_filter::of({"a", "b"}).key());
    CHECK(sym_filter::of({}).key() != sym_filter::all().key());
    CHECK_FALSE(sym_filter::of({}) == sym_filter::all());
    CHECK(sym_filter::of({"A"}).contains("A"));
    CHECK_FALSE(sym_filter::of({"A"}).contains("B"));
    CHECK(sym_filter::all().contains("anything"));
}

TEST_CASE("filter_directory: counts per shard, mask, entry gone with its last subscription") {
    filter_directory d;
    d.add(0, "trade", sym_filter::all());
    d.add(1, "trade", sym_filter::all());
    d.add(1, "trade", sym_filter::all());
    d.add(1, "trade", sym_filter::of({"A"}));
    auto f = d.filters("trade");
    REQUIRE(f.size() == 2);
    CHECK(f[0].shard_mask == 0b11);
    CHECK(f[0].counts == std::vector<uint32_t>{1, 2});
    CHECK(d.remove(1, "trade", sym_filter::all()));
    CHECK(d.filters("trade")[0].shard_mask == 0b11);
    CHECK(d.remove(0, "trade", sym_filter::all()));
    CHECK(d.filters("trade")[0].shard_mask == 0b10);
    CHECK_FALSE(d.remove(0, "trade", sym_filter::all()));
    CHECK(d.remove(1, "trade", sym_filter::all()));
    CHECK(d.remove(1, "trade", sym_filter::of({"A"})));
    CHECK(d.filters("trade").empty());
    CHECK_FALSE(d.remove(1, "nope", sym_filter::all()));
}

TEST_CASE("backlog: FIFO, bounded by count; disconnect policy clears and releases") {
    backlog q({3, 1 << 20, slow_policy::disconnect});
    update_ref u = bytes_of(10);
    for (int i = 0; i < 3; ++i) CHECK(q.push(0, u) == push_result::queued);
    CHECK(u.use_count() == 4);
    CHECK(q.bytes() == 30);
    CHECK(q.push(0, u) == push_result::disconnect);
    CHECK(q.empty());
    CHECK(u.use_count() == 1);  // references released at once
    CHECK(q.counters().overflows == 1);
    CHECK(q.counters().pushed == 3);
    CHECK(q.counters().updates_high == 3);
}

TEST_CASE("backlog: bounded by bytes, but one big update is always accepted") {
    backlog q({100, 25, slow_policy::disconnect});
    CHECK(q.push(0, bytes_of(100)) == push_result::queued);
    update_ref out;
    CHECK(q.pop(out));
    CHECK(out.size() == 100);
    CHECK(q.push(0, bytes_of(10)) == push_result::queued);
    CHECK(q.push(0, bytes_of(10)) == push_result::queued);
    CHECK(q.push(0, bytes_of(10)) == push_result::disconnect);
}

std::vector<uint8_t> pop_fills(backlog& q) {
    std::vector<uint8_t> out;
    for (update_ref u; q.pop(u);) out.push_back(u.bytes()[0]);
    return out;
}

TEST_CASE("backlog conflate: the new update supersedes its table's queued ones") {
    backlog q({4, 1 << 20, slow_policy::conflate});
    q.push(0, bytes_of(1, 1));  // trade
    q.push(1, bytes_of(1, 2));  // quote
    q.push(0, bytes_of(1, 3));  // trade
    q.push(1, bytes_of(1, 4));  // quote
    CHECK(q.push(0, bytes_of(1, 5)) == push_result::conflated);
    CHECK(q.counters().conflated == 2);
    CHECK(pop_fills(q) == std::vector<uint8_t>{2, 4, 5});
}

TEST_CASE("backlog conflate: then only the newest per table; then the oldest") {
    backlog q({3, 1 << 20, slow_policy::conflate});
    q.push(1, bytes_of(1, 1));
    q.push(2, bytes_of(1, 2));
    q.push(1, bytes_of(1, 3));
    CHECK(q.push(0, bytes_of(1, 4)) == push_result::conflated);  // 1 superseded by 3
    CHECK(pop_fills(q) == std::vector<uint8_t>{2, 3, 4});
    backlog r({2, 1 << 20, slow_policy::conflate});
    r.push(1, bytes_of(1, 1));
    r.push(2, bytes_of(1, 2));
    CHECK(r.push(3, bytes_of(1, 3)) == push_result::conflated);  // three tables, room for two
    CHECK(pop_fills(r) == std::vector<uint8_t>{2, 3});
    CHECK(r.counters().popped == 2);
}

// The engine's wiring in miniature: shard 0 publishes, shards 0 and 1 hold subscribers. Each
// distinct filter is encoded once; every subscriber of a filter gets the same buffer.
TEST_CASE("two shards: one encoding per distinct filter, identical bytes to every subscriber") {
    registry shard[2];
    filter_directory dir;
    auto sub = [&](uint32_t s, subscriber_id id, sym_filter f) {
        dir.add(s, "trade", f);
        shard[s].subscribe(id, "trade", std::move(f));
    };
    sub(0, 1, sym_filter::all());
    sub(1, 2, sym_filter::all());
    sub(0, 3, sym_filter::of({"A"}));
    sub(1, 4, sym_filter::of({"A"}));
    sub(1, 5, sym_filter::of({"Z"}));
    std::map<subscriber_id, backlog> queues;
    for (subscriber_id id = 1; id <= 5; ++id) queues.emplace(id, backlog{});

    const auto msg = test::message(test::upd("trade", test::trades({"A", "B", "A"})));
    update_view u;
    REQUIRE(parse_update(std::span(msg).subspan(8), true, u).ok());
    row_selection scratch;
    publish_ctx ctx{&u, update_ref::copy_of(msg), {}, &scratch, {}};
    int encoded = 0;
    for (const filter_directory::entry& e : dir.filters("trade")) {
        publish_kind kind{};
        update_ref buf;
        REQUIRE(publish_for(ctx, e.filter, kind, buf).ok());
        encoded += kind == publish_kind::encoded;
        if (!buf) continue;
        for (uint32_t s = 0; s < 2; ++s) {  // one mailbox message per shard in the mask
            if (!(e.shard_mask >> s & 1)) continue;
            const filter_group* g = shard[s].find_group("trade", e.filter);
            REQUIRE(g != nullptr);
            for (subscriber_id id : g->subscribers) queues.at(id).push(0, buf);
        }
    }
    CHECK(encoded == 1);  // only the A filter; all-syms is the received buffer
    update_ref a1, a2, all1, all2, none;
    REQUIRE(queues.at(3).pop(a1));
    REQUIRE(queues.at(4).pop(a2));
    REQUIRE(queues.at(1).pop(all1));
    REQUIRE(queues.at(2).pop(all2));
    CHECK(a1.same_as(a2));
    CHECK(all1.same_as(ctx.received));
    CHECK(all2.same_as(ctx.received));
    CHECK_FALSE(queues.at(5).pop(none));
    CHECK(test::decode_msg(a1.bytes()).items[2].count() == 2);
}

}  // namespace
}  // namespace qgate::pubsub
