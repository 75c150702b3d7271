// Codec micro-benchmarks: header parse, walk (validate), encode, compress and decompress of a
// ~1 MB trade table, each beside memcpy of the same bytes, plus the cost of pushing the same
// megabyte through a loopback TCP connection (the "walking costs well under 1% of forwarding"
// target). Byte rates are reported with SetBytesProcessed; see bench/RESULTS.md.
//
// Design note: inputs are built once, deterministically (fixed seed), outside the timed loops.
// BM_decompress_reference runs a plain transcription of reference 4.4 (byte-at-a-time, every
// access checked) to show what the fast group path in src/qipc/compress.cc buys.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <emmintrin.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "qgate/qipc/compress.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/walker.h"
#include "qgate/qipc/writer.h"
#include "../tests/qipc/reference_decompress.h"
#include "bench_util.h"

using namespace qgate::qipc;

namespace {

struct inputs {
    value table = qgate::bench::make_trades();
    std::vector<uint8_t> msg = encode_message(table, msg_type::response);
    std::vector<uint8_t> packed;
    inputs() {
        packed.resize(msg.size() / 2);
        packed.resize(compress(msg, packed));
        if (packed.empty()) {
            std::fprintf(stderr, "codec_bench: the table did not compress\n");
            std::abort();
        }
    }
    std::span<const uint8_t> body() const { return std::span(msg).subspan(kHeaderSize); }
};

// A compressible message for the match-heavy decoder path: til 131072 as longs (1 MB).
struct til_inputs {
    std::vector<uint8_t> msg, packed;
    til_inputs() {
        std::vector<int64_t> v(131072);
        for (size_t i = 0; i < v.size(); ++i) v[i] = int64_t(i);
        msg = encode_message(value::longs(v), msg_type::response);
        packed.resize(msg.size() / 2);
        packed.resize(compress(msg, packed));
        if (packed.empty()) std::abort();
    }
};

const til_inputs& til() {
    static const til_inputs kInputs;
    return kInputs;
}

const inputs& in() {
    static const inputs kInputs;
    return kInputs;
}

void BM_memcpy(benchmark::State& state) {
    const size_t n = state.range(0) == 0 ? in().msg.size() : size_t(state.range(0));
    std::vector<uint8_t> dst(n);
    for (auto _ : state) {
        std::memcpy(dst.data(), in().msg.data(), n);
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n));
}
BENCHMARK(BM_memcpy)->Arg(kHeaderSize)->Arg(0);

void BM_header_parse(benchmark::State& state) {
    const std::span<const uint8_t> head(in().msg.data(), kHeaderSize);
    frame_header h;
    for (auto _ : state) {
        benchmark::DoNotOptimize(head.data());
        status st = parse_header(head, h);
        benchmark::DoNotOptimize(st);
        benchmark::DoNotOptimize(h);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kHeaderSize));
}
BENCHMARK(BM_header_parse);

// Arg 0: the trade table; 1: the same table without its sym column (fixed-width columns only);
// 2: the sym column alone. Splits the walk cost between symbol scanning and everything else.
std::vector<uint8_t> walk_input(int64_t which) {
    if (which == 0) return {in().body().begin(), in().body().end()};
    const value& dict = in().table.items[0];
    const value& cols = dict.items[1];
    value v = cols.items[0];
    if (which == 1) {
        v = value::table({"time", "price", "size"}, {cols.items[1], cols.items[2], cols.items[3]});
    }
    return encode_body(v);
}

void BM_walk_validate(benchmark::State& state) {
    const std::vector<uint8_t> body = walk_input(state.range(0));
    const walker w(body, true);
    for (auto _ : state) {
        object_view top;
        status st = w.validate(&top);
        if (!st) state.SkipWithError("validate failed");
        benchmark::DoNotOptimize(top);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(body.size()));
}
BENCHMARK(BM_walk_validate)->Arg(0)->Arg(1)->Arg(2);

// A 64-byte call as request mode gets it (node-q's k("getTrades"; `AAPL; 10; "...")): the
// validation every call passes before it is routed (src/proxy/request_bodies.cc; it is the
// walk classify() does). Arg 0: that general list, whose 4 items are walked; 1: the same list
// claiming 5 items (rejected at the end of the bytes); 2: a 64-byte string query, O(1).
std::vector<uint8_t> call_64(int64_t which) {
    std::vector<uint8_t> b;
    if (which == 2) {
        const std::string text = "getTrades[`AAPL;10;\"fourteen chars\"]";
        b = encode_body(value::string(text + std::string(64 - 14 - text.size(), ' ')));
    } else {
        b = encode_body(value::list({value::string("getTrades"), value::symbol("AAPL"),
                                     value::long_(10), value::string("fourteen chars")}));
    }
    if (b.size() + kHeaderSize != 64) std::abort();
    if (which == 1) b[2] = 5;  // the count of the outer list
    return b;
}

void BM_validate_call(benchmark::State& state) {
    const std::vector<uint8_t> body = call_64(state.range(0));
    const walker w(body, true);
    const bool want = state.range(0) != 1;
    for (auto _ : state) {
        benchmark::DoNotOptimize(body.data());
        object_view top;
        const bool ok = w.validate(&top).ok();
        if (ok != want) state.SkipWithError("unexpected verdict");
        benchmark::DoNotOptimize(top);
    }
}
BENCHMARK(BM_validate_call)->Arg(0)->Arg(1)->Arg(2);

// The bare symbol-vector scan: finds the end of the n-th NUL 16 bytes at a time (SSE2 compare +
// popcount). walker.cc's skip_texts() does the same (it replaced one memchr per symbol), so
// BM_walk_validate/2 minus this is the walker's own overhead around the scan.
// Same SWAR popcount as walker.cc: without -mpopcnt, __builtin_popcount is a libgcc call
// that costs more than the compare (it doubled this benchmark's time).
inline uint64_t popcount16(unsigned x) {
    x = x - ((x >> 1) & 0x5555u);
    x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
    x = (x + (x >> 4)) & 0x0f0fu;
    return (x + (x >> 8)) & 0x1fu;
}

const uint8_t* skip_nuls_sse2(const uint8_t* p, const uint8_t* end, uint64_t n) {
    const __m128i zero = _mm_setzero_si128();
    while (n > 0 && end - p >= 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        unsigned mask = unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(x, zero)));
        const uint64_t k = popcount16(mask);
        if (k < n) {
            n -= k;
            p += 16;
            continue;
        }
        for (; n > 1; --n) mask &= mask - 1;  // drop all but the n-th NUL
        return p + __builtin_ctz(mask) + 1;
    }
    for (; n > 0 && p < end; ++p) n -= *p == 0;
    return n == 0 ? p : nullptr;
}

void BM_symbol_scan_sse2(benchmark::State& state) {
    const std::vector<uint8_t> body = walk_input(2);
    const uint64_t n = load_u32(body.data() + 2, true);
    for (auto _ : state) {
        const uint8_t* e = skip_nuls_sse2(body.data() + 6, body.data() + body.size(), n);
        if (e != body.data() + body.size()) state.SkipWithError("scan ended early");
        benchmark::DoNotOptimize(e);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(body.size()));
}
BENCHMARK(BM_symbol_scan_sse2);

void BM_encode_into(benchmark::State& state) {
    std::vector<uint8_t> out(encoded_size(in().table));
    for (auto _ : state) {
        uint8_t* end = encode_into(in().table, out.data());
        benchmark::DoNotOptimize(end);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(out.size()));
}
BENCHMARK(BM_encode_into);

void BM_compress(benchmark::State& state) {
    std::vector<uint8_t> out(in().msg.size() / 2);
    for (auto _ : state) {
        uint64_t n = compress(in().msg, out);
        benchmark::DoNotOptimize(n);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(in().msg.size()));
    state.counters["ratio"] = double(in().packed.size()) / double(in().msg.size());
}
BENCHMARK(BM_compress);

// Arg 0: the trade table (mostly literals); arg 1: til 131072 (mostly matches).
void BM_decompress(benchmark::State& state) {
    const std::vector<uint8_t>& msg = state.range(0) == 0 ? in().msg : til().msg;
    const std::vector<uint8_t>& packed = state.range(0) == 0 ? in().packed : til().packed;
    std::vector<uint8_t> out(msg.size());
    for (auto _ : state) {
        status st = decompress(packed, out);
        if (!st) state.SkipWithError("decompress failed");
        benchmark::ClobberMemory();
    }
    if (out != msg) state.SkipWithError("decompress output differs");
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(out.size()));
    state.counters["ratio"] = double(packed.size()) / double(msg.size());
}
BENCHMARK(BM_decompress)->Arg(0)->Arg(1);

void BM_decompress_reference(benchmark::State& state) {
    const std::vector<uint8_t>& msg = state.range(0) == 0 ? in().msg : til().msg;
    const std::vector<uint8_t>& packed = state.range(0) == 0 ? in().packed : til().packed;
    std::vector<uint8_t> out(msg.size());
    for (auto _ : state) {
        if (!test::reference_decompress(packed, packed.size(), out))
            state.SkipWithError("reference failed");
        benchmark::ClobberMemory();
    }
    if (!std::equal(out.begin() + 8, out.end(), msg.begin() + 8))
        state.SkipWithError("reference output differs");
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(out.size()));
}
BENCHMARK(BM_decompress_reference)->Arg(0)->Arg(1);

void BM_loopback_tcp(benchmark::State& state) {
    qgate::bench::loopback lb;
    const std::vector<uint8_t>& msg = in().msg;
    uint64_t sent = 0;
    for (auto _ : state) {
        size_t off = 0;
        while (off < msg.size()) {
            const ssize_t n = write(lb.tx, msg.data() + off, msg.size() - off);
            if (n <= 0) {
                state.SkipWithError("write failed");
                return;
            }
            off += size_t(n);
        }
        sent += msg.size();
    }
    // Count the time until the receiver has everything: the cost of forwarding, not of queueing.
    while (lb.received.load(std::memory_order_relaxed) < sent) std::this_thread::yield();
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(msg.size()));
}
BENCHMARK(BM_loopback_tcp)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
