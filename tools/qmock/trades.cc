// getTrades' deterministic table. The rule is simple enough for a test in any language to
// compute the expected rows (README.md, "getTrades"):
//   h       = sum of the bytes of sym
//   time_i  = 2026.01.02D09:30:00 + i seconds
//   sym_i   = sym
//   price_i = (h mod 1000) + i * 0.25        (exact in binary floating point)
//   size_i  = 100 * (1 + (h + i) mod 10)
#include <cstring>

#include "request.h"

namespace qmock {

namespace qipc = qgate::qipc;

/// 2026.01.02D09:30:00 in nanoseconds since 2000.01.01 (9498 days + 9.5 hours).
constexpr int64_t kTradesEpochNs = 820661400000000000;
constexpr int64_t kSecondNs = 1000000000;

qipc::value make_trades(std::string_view sym, int64_t n) {
    uint64_t h = 0;
    for (unsigned char ch : sym) h += ch;
    auto rows = static_cast<std::size_t>(n);
    std::vector<uint8_t> times(rows * 8);
    std::vector<double> prices(rows);
    std::vector<int64_t> sizes(rows);
    for (std::size_t i = 0; i < rows; ++i) {
        int64_t t = kTradesEpochNs + static_cast<int64_t>(i) * kSecondNs;
        std::memcpy(times.data() + i * 8, &t, 8);  // x86: host order is little-endian
        prices[i] = static_cast<double>(h % 1000) + static_cast<double>(i) * 0.25;
        sizes[i] = static_cast<int64_t>(100 * (1 + (h + i) % 10));
    }
    std::vector<qipc::value> columns;
    columns.push_back(qipc::value::fixed(qipc::qtype::kTimestamp, std::move(times)));
    columns.push_back(qipc::value::symbols(std::vector<std::string>(rows, std::string(sym))));
    columns.push_back(qipc::value::floats(prices));
    columns.push_back(qipc::value::longs(sizes));
    return qipc::value::table({"time", "sym", "price", "size"}, std::move(columns));
}

}  // namespace qmock
