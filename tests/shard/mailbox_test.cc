// The mailbox (an spsc_ring of typed xmsg) and its wake protocol: ordering, full queue,
// batching, each message kind received as its type, wake only when the consumer sleeps
// (exactly once), and a two-thread stress run. Plus the timer heap.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "shard/mailbox.h"
#include "shard/timer_heap.h"
#include "spin_bound.h"

using namespace qgate::shard;
using qgate::test::kSpinBudget;
using qgate::test::spin_bound;

namespace {
uint64_t seq_of(const xmsg& m) { return std::get<ping_msg>(m).seq; }
}  // namespace

TEST_CASE("mailbox ring: FIFO order, full queue, batching") {
    mailbox_ring q(8, kMailboxBatch);
    for (uint32_t i = 0; i < 8; ++i) REQUIRE(q.push(ping_msg{i}));
    CHECK_FALSE(q.push(ping_msg{99}));  // full, counting unpublished slots
    CHECK_FALSE(q.has_published());     // fewer than kMailboxBatch pushes: nothing visible yet
    std::vector<uint64_t> seen;
    CHECK(q.drain([&](const xmsg& m) { seen.push_back(seq_of(m)); }) == 0);
    CHECK(q.publish());
    CHECK_FALSE(q.publish());           // nothing new
    CHECK(q.drain([&](const xmsg& m) { seen.push_back(seq_of(m)); }) == 8);
    CHECK(seen == std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7});
    REQUIRE(q.push(ping_msg{8}));       // slots freed by the drain
    q.publish();
    CHECK(q.drain([&](const xmsg& m) { CHECK(seq_of(m) == 8); }) == 1);
}

TEST_CASE("mailbox ring: a full batch publishes by itself") {
    mailbox_ring q(64, kMailboxBatch);
    for (uint32_t i = 0; i + 1 < kMailboxBatch; ++i) REQUIRE(q.push(ping_msg{i}));
    CHECK_FALSE(q.has_published());
    REQUIRE(q.push(ping_msg{kMailboxBatch}));
    CHECK(q.has_published());
}

TEST_CASE("xmsg: each kind arrives as its own type, with its fields") {
    mailbox_mesh mesh(2);
    REQUIRE(mesh.queue(0, 1).push(drain_msg{}));
    REQUIRE(mesh.queue(0, 1).push(requests_msg{nullptr}));
    REQUIRE(mesh.queue(0, 1).push(pubsub_wake_msg{}));
    REQUIRE(mesh.queue(0, 1).push(ping_msg{42}));
    mesh.flush(0, 1);
    std::vector<std::string> seen;
    mesh.drain(1, [&](uint32_t, const xmsg& m) {
        std::visit(overloaded{
                       [&](const drain_msg&) { seen.emplace_back("drain"); },
                       [&](const requests_msg& r) {
                           seen.emplace_back(r.head == nullptr ? "requests" : "requests?");
                       },
                       [&](const pubsub_wake_msg&) { seen.emplace_back("pubsub"); },
                       [&](const ping_msg& p) { seen.push_back("ping" + std::to_string(p.seq)); },
                   },
                   m);
    });
    CHECK(seen == std::vector<std::string>{"drain", "requests", "pubsub", "ping42"});
}

TEST_CASE("mailbox_mesh: wake only a sleeping peer, and only once") {
    mailbox_mesh mesh(3);
    // Awake consumer: no wake needed.
    REQUIRE(mesh.queue(0, 1).push(ping_msg{0}));
    CHECK_FALSE(mesh.flush(0, 1));
    // Consumer with a message waiting refuses to sleep.
    CHECK_FALSE(mesh.prepare_sleep(1));
    CHECK_FALSE(mesh.sleeping(1));
    CHECK(mesh.drain(1, [](uint32_t from, const xmsg&) { CHECK(from == 0); }) == 1);
    // Empty inbox: it sleeps; the first producer to publish wakes it, the second does not.
    CHECK(mesh.prepare_sleep(1));
    REQUIRE(mesh.queue(0, 1).push(ping_msg{1}));
    REQUIRE(mesh.queue(2, 1).push(ping_msg{2}));
    CHECK(mesh.flush(0, 1));
    CHECK_FALSE(mesh.flush(2, 1));
    mesh.woke(1);
    CHECK(mesh.drain(1, [](uint32_t, const xmsg&) {}) == 2);
    // Nothing published: flush never wakes.
    CHECK(mesh.prepare_sleep(1));
    CHECK_FALSE(mesh.flush(0, 1));
    mesh.woke(1);
}

TEST_CASE("mailbox_mesh: a batch that push() published by itself still wakes a sleeper") {
    mailbox_mesh mesh(2);
    CHECK(mesh.prepare_sleep(1));  // consumer found nothing and sleeps
    // The 16th push publishes the batch with no wake check of its own ...
    for (uint32_t i = 0; i < kMailboxBatch; ++i) REQUIRE(mesh.queue(0, 1).push(ping_msg{i}));
    // ... so the end-of-turn flush, which publishes nothing new, must still wake the sleeper.
    CHECK(mesh.flush(0, 1));
    mesh.woke(1);
    CHECK(mesh.drain(1, [](uint32_t, const xmsg&) {}) == kMailboxBatch);
}

TEST_CASE("mailbox_mesh: two threads, every message once and in order, no lost wake") {
    mailbox_mesh mesh(2);
    constexpr uint32_t kCount = 200000;
    const auto deadline = std::chrono::steady_clock::now() + kSpinBudget;
    std::atomic<uint32_t> wakes{0};
    std::atomic<bool> wake_token{false};  // stands in for the MSG_RING CQE / eventfd
    std::atomic<bool> give_up{false};     // either side timed out: the other stops too
    // Written by the consumer, read here after join(): doctest assertions are not thread-safe,
    // so the consumer records and the main thread asserts.
    uint32_t received = 0;
    uint32_t out_of_order = 0;
    bool wake_lost = false;
    std::thread consumer([&] {
        spin_bound run{deadline};  // the whole run, however it loops
        while (received < kCount && !give_up.load()) {
            mesh.drain(1, [&](uint32_t, const xmsg& m) {
                out_of_order += seq_of(m) == received ? 0 : 1;
                ++received;
            });
            if (received == kCount) break;
            if (!run.go_on()) {
                give_up = true;
                break;
            }
            if (mesh.prepare_sleep(1)) {
                // "Block in the kernel" until the wake token arrives (bounded spin).
                spin_bound wait{deadline};
                while (!wake_token.exchange(false) && !give_up.load()) {
                    if (!wait.go_on()) {
                        wake_lost = true;
                        give_up = true;
                        break;
                    }
                    std::this_thread::yield();
                }
                mesh.woke(1);
            }
        }
    });
    spin_bound full{deadline};
    uint32_t sent = 0;
    bool stalled = false;
    while (sent < kCount && !give_up.load()) {
        if (mesh.queue(0, 1).push(ping_msg{sent})) {
            ++sent;
            if (sent % 7 == 0 || sent == kCount) {
                if (mesh.flush(0, 1)) {
                    ++wakes;
                    wake_token.store(true);
                }
            }
        } else if (mesh.flush(0, 1)) {
            ++wakes;
            wake_token.store(true);
        } else if (!full.go_on()) {
            stalled = true;  // the queue stayed full: the consumer stopped draining
            give_up = true;
        } else {
            std::this_thread::yield();
        }
    }
    consumer.join();
    CHECK_MESSAGE(!wake_lost, "consumer slept through a published batch: a wake was lost");
    CHECK_MESSAGE(!stalled,
                  "the queue stayed full until the deadline: the consumer slept "
                  "through it (a lost wake) or stopped draining");
    CHECK(sent == kCount);
    CHECK(received == kCount);
    CHECK(out_of_order == 0);
    MESSAGE("wakes sent: " << wakes.load() << " for " << kCount << " messages");
    CHECK(wakes.load() < kCount);
}

TEST_CASE("timer_heap: earliest first, lazy cancellation by the owner") {
    timer_heap h(8);
    CHECK(h.next() == UINT64_MAX);
    h.add(300, 1, 1);
    h.add(100, 2, 1);
    h.add(200, 3, 1);
    CHECK(h.next() == 100);
    std::vector<uint32_t> fired;
    CHECK(h.expire(150, [&](const timer_entry& e) { fired.push_back(e.slot); }) == 1);
    CHECK(h.expire(1000, [&](const timer_entry& e) { fired.push_back(e.slot); }) == 2);
    CHECK(fired == std::vector<uint32_t>{2, 3, 1});
    h.add(50, 4, 1);
    h.add(60, 5, 2);
    h.compact([](const timer_entry& e) { return e.slot == 4; });
    CHECK(h.size() == 1);
    CHECK(h.next() == 60);
}
