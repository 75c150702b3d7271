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
#include "bench_util.h"

using namespace qgate;
using qipc::value;

namespace {

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
        value a = bench::make_trades(42), b = bench::make_trades(7);
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
    bench::loopback lb;
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
    bench::loopback lb;
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
    bench::loopback lb;
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
    bench::loopback lb;
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
