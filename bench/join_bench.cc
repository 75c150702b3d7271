// Join micro-benchmarks (issue 6): raze of two ~1 MB trade tables by gathering (new heads in a
// small buffer + iovecs into the partial replies) beside memcpy of the same bytes, which is the
// least any copying join would pay; /1 is the same without the symbol column. The
// column_bytes_copied counter is the join's own count of partial bytes it copied in user
// space: 0 for raze. BM_gather_deliver is the cost of handing the two replies to the gather
// (header checks only; the join walks the bodies). BM_raze_compressed adds q's compression for
// a non-local peer (the one path that copies). BM_send_* deliver the joined reply through a
// loopback TCP pair (gathered sendmsg, a copying join, the bodies in place, one reply alone).
// Inputs are built once, deterministically (fixed seeds), outside the timed loops.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "qgate/join.h"
#include "qgate/qipc/writer.h"

using namespace qgate;
using qipc::value;

namespace {

constexpr size_t kRows = 35000;  // ~1 MB per table: sym ~5 B + timestamp, price, size 8 B each

template <typename T>
void append_le(std::vector<uint8_t>& raw, T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    raw.insert(raw.end(), b, b + sizeof(T));
}

// ([] sym; time; price; size), as in codec_bench: 100 tickers, rising times, a price walk.
value make_trades(uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::string> tickers;
    for (int i = 0; i < 100; ++i) {
        std::string t;
        for (int k = 0; k < 3 + i % 2; ++k) t.push_back(char('A' + rng() % 26));
        tickers.push_back(t);
    }
    std::vector<std::string> syms;
    std::vector<uint8_t> times, prices, sizes;
    int64_t ts = int64_t{826} * 86400 * 1000000000;
    double price = 100.0;
    for (size_t i = 0; i < kRows; ++i) {
        syms.push_back(tickers[rng() % tickers.size()]);
        ts += int64_t(rng() % 5000000);
        append_le(times, ts);
        price += (double(int(rng() % 9)) - 4.0) / 64.0;
        append_le(prices, price);
        append_le(sizes, int64_t(100 * (1 + rng() % 50)));
    }
    namespace qt = qipc::qtype;
    return value::table({"sym", "time", "price", "size"},
                        {value::symbols(std::move(syms)), value::fixed(qt::kTimestamp, times),
                         value::fixed(qt::kFloat, prices), value::fixed(qt::kLong, sizes)});
}

/// The same table without its symbol column: only fixed-width columns, whose validation is
/// O(1) each, so what remains is the join's own per-column cost.
value without_sym(value t) {
    value& dict = t.items[0];
    dict.items[0].syms.erase(dict.items[0].syms.begin());
    dict.items[1].items.erase(dict.items[1].items.begin());
    return t;
}

struct inputs {
    std::vector<uint8_t> rdb, hdb;
    std::vector<join::part_view> parts;
    explicit inputs(bool sym) {
        value a = make_trades(42), b = make_trades(7);
        if (!sym) a = without_sym(std::move(a)), b = without_sym(std::move(b));
        rdb = qipc::encode_message(a, qipc::msg_type::response);
        hdb = qipc::encode_message(b, qipc::msg_type::response);
        parts = {{std::span<const uint8_t>(rdb).subspan(8), true},
                 {std::span<const uint8_t>(hdb).subspan(8), true}};
    }
    uint64_t bytes() const { return rdb.size() + hdb.size() - 16; }
};

/// Arg 0: the trade tables; arg 1: the same without `sym`.
const inputs& in(int64_t arg = 0) {
    static const inputs kWith(true), kWithout(false);
    return arg == 0 ? kWith : kWithout;
}

void BM_raze_gather(benchmark::State& state) {
    const inputs& x = in(state.range(0));
    join::join_output out;
    for (auto _ : state) {
        if (join::raze(x.parts, {}, out) != join::join_error::ok) state.SkipWithError("raze");
        benchmark::DoNotOptimize(out.iov.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations() * x.bytes()));
    state.counters["column_bytes_copied"] = double(out.column_bytes_copied);
    state.counters["referenced_bytes"] = double(out.referenced_bytes);
    state.counters["meta_bytes"] = double(out.meta.size());
    state.counters["iovecs"] = double(out.iov.size());
    state.counters["joined_bytes"] = double(out.total_bytes);
}
BENCHMARK(BM_raze_gather)->Arg(0)->Arg(1);

void BM_memcpy_same_bytes(benchmark::State& state) {
    const inputs& x = in(state.range(0));
    std::vector<uint8_t> dst(x.bytes());
    for (auto _ : state) {
        std::memcpy(dst.data(), x.parts[0].body.data(), x.parts[0].body.size());
        std::memcpy(dst.data() + x.parts[0].body.size(), x.parts[1].body.data(),
                    x.parts[1].body.size());
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations() * x.bytes()));
    state.counters["column_bytes_copied"] = double(x.bytes());
}
BENCHMARK(BM_memcpy_same_bytes)->Arg(0)->Arg(1);

void BM_gather_deliver(benchmark::State& state) {
    const inputs& x = in();
    join::gather g;
    for (auto _ : state) {
        g.start(2);
        g.deliver(0, x.rdb);
        if (g.deliver(1, x.hdb) != join::gather_status::complete) state.SkipWithError("gather");
    }
    state.SetBytesProcessed(int64_t(state.iterations() * x.bytes()));
}
BENCHMARK(BM_gather_deliver);

void BM_raze_compressed(benchmark::State& state) {
    const inputs& x = in();
    join::join_output out;
    for (auto _ : state) {
        join::raze(x.parts, {}, out);
        benchmark::DoNotOptimize(join::compress_if_q_would(out, false));
    }
    state.SetBytesProcessed(int64_t(state.iterations() * x.bytes()));
    state.counters["column_bytes_copied"] = double(out.column_bytes_copied);
    state.counters["compressed"] = out.compressed ? 1 : 0;
    state.counters["joined_bytes"] = double(out.total_bytes);
}
BENCHMARK(BM_raze_compressed);

// A connected loopback TCP pair and a thread draining the receiving end (as in codec_bench).
struct loopback {
    int tx = -1, rx = -1;
    std::atomic<uint64_t> received{0};
    std::thread reader;

    loopback() {
        const int lst = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t alen = sizeof a;
        if (lst < 0 || bind(lst, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            listen(lst, 1) != 0 || getsockname(lst, reinterpret_cast<sockaddr*>(&a), &alen) != 0)
            std::abort();
        tx = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(tx, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
        rx = accept(lst, nullptr, nullptr);
        close(lst);
        if (rx < 0) std::abort();
        reader = std::thread([this] {
            std::vector<uint8_t> buf(1 << 20);
            for (ssize_t n; (n = read(rx, buf.data(), buf.size())) > 0;)
                received.fetch_add(uint64_t(n), std::memory_order_relaxed);
        });
    }
    ~loopback() {
        shutdown(tx, SHUT_WR);
        reader.join();
        close(tx);
        close(rx);
    }
    void wait_for(uint64_t sent) const {
        while (received.load(std::memory_order_relaxed) < sent) std::this_thread::yield();
    }
};

/// sendmsg of the whole iovec list, resuming short sends (what the engine's send path does).
bool send_all(int fd, std::vector<iovec> iov) {
    size_t first = 0;
    while (first < iov.size()) {
        msghdr m{};
        m.msg_iov = iov.data() + first;
        m.msg_iovlen = iov.size() - first;
        ssize_t n = sendmsg(fd, &m, 0);
        if (n <= 0) return false;
        for (; first < iov.size() && size_t(n) >= iov[first].iov_len; ++first)
            n -= ssize_t(iov[first].iov_len);
        if (first < iov.size()) {
            iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + n;
            iov[first].iov_len -= size_t(n);
        }
    }
    return true;
}

// Delivering the joined reply: raze + one gathered sendmsg of the 2 MB through loopback TCP,
// against (a) a copying join (memcpy both bodies behind a header, then send) and (b) sending
// one backend's 1 MB reply alone. Wall time, until the reader has every byte.
void BM_send_raze_sendmsg(benchmark::State& state) {
    const inputs& x = in();
    loopback lb;
    join::join_output out;
    uint64_t sent = 0;
    for (auto _ : state) {
        join::raze(x.parts, {}, out);
        if (!send_all(lb.tx, out.iov)) state.SkipWithError("sendmsg");
        sent += out.total_bytes;
    }
    lb.wait_for(sent);
    state.SetBytesProcessed(int64_t(sent));
    state.counters["column_bytes_copied"] = double(out.column_bytes_copied);
}
BENCHMARK(BM_send_raze_sendmsg)->UseRealTime();

void BM_send_copied_join(benchmark::State& state) {
    const inputs& x = in();
    loopback lb;
    std::vector<uint8_t> buf(8 + x.bytes());
    uint64_t sent = 0;
    for (auto _ : state) {
        std::memcpy(buf.data() + 8, x.parts[0].body.data(), x.parts[0].body.size());
        std::memcpy(buf.data() + 8 + x.parts[0].body.size(), x.parts[1].body.data(),
                    x.parts[1].body.size());
        if (!send_all(lb.tx, {iovec{buf.data(), buf.size()}})) state.SkipWithError("send");
        sent += buf.size();
    }
    lb.wait_for(sent);
    state.SetBytesProcessed(int64_t(sent));
    state.counters["column_bytes_copied"] = double(x.bytes());
}
BENCHMARK(BM_send_copied_join)->UseRealTime();

// The same partial bytes sent in place with two iovecs and no join: the floor for /raze.
void BM_send_two_bodies(benchmark::State& state) {
    const inputs& x = in();
    loopback lb;
    uint64_t sent = 0;
    for (auto _ : state) {
        const std::vector<iovec> iov = {
            {const_cast<uint8_t*>(x.parts[0].body.data()), x.parts[0].body.size()},
            {const_cast<uint8_t*>(x.parts[1].body.data()), x.parts[1].body.size()}};
        if (!send_all(lb.tx, iov)) state.SkipWithError("sendmsg");
        sent += x.bytes();
    }
    lb.wait_for(sent);
    state.SetBytesProcessed(int64_t(sent));
}
BENCHMARK(BM_send_two_bodies)->UseRealTime();

void BM_send_one_reply(benchmark::State& state) {
    const inputs& x = in();
    loopback lb;
    uint64_t sent = 0;
    for (auto _ : state) {
        if (!send_all(lb.tx, {iovec{const_cast<uint8_t*>(x.rdb.data()), x.rdb.size()}}))
            state.SkipWithError("send");
        sent += x.rdb.size();
    }
    lb.wait_for(sent);
    state.SetBytesProcessed(int64_t(sent));
}
BENCHMARK(BM_send_one_reply)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
