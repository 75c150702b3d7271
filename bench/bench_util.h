// Inputs and plumbing shared by the micro-benchmarks: a deterministic ~1 MB trade table and a
// loopback TCP pair with a draining reader thread. Built outside the timed loops.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "qgate/qipc/value.h"

namespace qgate::bench {

inline constexpr size_t kTradeRows = 35000;  // ~1 MB: sym ~5 B + timestamp, price, size 8 B

template <typename T>
void append_le(std::vector<uint8_t>& raw, T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    raw.insert(raw.end(), b, b + sizeof(T));
}

/// ([] sym; time (timestamp); price; size): 100 tickers, rising timestamps, prices on a 1/64
/// tick grid doing a random walk, sizes in round lots. The same seed gives the same table.
inline qipc::value make_trades(uint64_t seed = 42) {
    std::mt19937_64 rng(seed);
    std::vector<std::string> tickers;
    for (int i = 0; i < 100; ++i) {
        std::string t;
        for (int k = 0; k < 3 + i % 2; ++k) t.push_back(char('A' + rng() % 26));
        tickers.push_back(t);
    }
    std::vector<std::string> syms;
    std::vector<uint8_t> times, prices, sizes;
    int64_t ts = int64_t{826} * 86400 * 1000000000;  // 2026.04.06 in ns since 2000.01.01
    double price = 100.0;
    for (size_t i = 0; i < kTradeRows; ++i) {
        syms.push_back(tickers[rng() % tickers.size()]);
        ts += int64_t(rng() % 5000000);
        append_le(times, ts);
        price += (double(int(rng() % 9)) - 4.0) / 64.0;
        append_le(prices, price);
        append_le(sizes, int64_t(100 * (1 + rng() % 50)));
    }
    namespace qt = qipc::qtype;
    using qipc::value;
    return value::table({"sym", "time", "price", "size"},
                        {value::symbols(std::move(syms)), value::fixed(qt::kTimestamp, times),
                         value::fixed(qt::kFloat, prices), value::fixed(qt::kLong, sizes)});
}

/// A connected loopback TCP pair (listener bound to 127.0.0.1 port 0) and a thread that
/// drains the receiving end, counting bytes. Set-up failures abort: a benchmark cannot run.
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
    loopback(const loopback&) = delete;
    loopback& operator=(const loopback&) = delete;
    /// Spins until the reader has seen `sent` bytes (the end of one iteration's message).
    void wait_for(uint64_t sent) const {
        while (received.load(std::memory_order_relaxed) < sent) std::this_thread::yield();
    }
};

}  // namespace qgate::bench
