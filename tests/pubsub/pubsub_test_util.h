// Helpers for the pub/sub tests: q bodies built with the codec (as q, node-q or Java send
// them), the trade table qmock --tickerplant publishes, and decoding of republished messages.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "qgate/pubsub.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"

namespace qgate::pubsub::test {

using qipc::value;

/// Body bytes (no header) of `v`, little-endian.
inline std::vector<uint8_t> body(const value& v) { return qipc::encode_body(v); }

/// A whole async message (header + body).
inline std::vector<uint8_t> message(const value& v) {
    return qipc::encode_message(v, qipc::msg_type::async);
}

inline value fixed_vector(int8_t t, const std::vector<int64_t>& xs, int width) {
    std::vector<uint8_t> raw(xs.size() * width);
    for (size_t i = 0; i < xs.size(); ++i) std::memcpy(raw.data() + i * width, &xs[i], width);
    return value::fixed(t, raw);
}

/// ([] time:timestamp; sym; price:float; size:long; seq:long), row i: seq = first + i.
inline value trades(const std::vector<std::string>& syms, int64_t first = 0) {
    std::vector<int64_t> times, sizes, seqs;
    std::vector<double> prices;
    for (size_t i = 0; i < syms.size(); ++i) {
        times.push_back(1000 + int64_t(i));
        prices.push_back(100.0 + double(i) * 0.5);
        sizes.push_back(100 * int64_t(i + 1));
        seqs.push_back(first + int64_t(i));
    }
    return value::table({"time", "sym", "price", "size", "seq"},
                        {fixed_vector(qipc::qtype::kTimestamp, times, 8), value::symbols(syms),
                         value::floats(prices), value::longs(sizes), value::longs(seqs)});
}

/// The columns of trades(syms) as a general list (what a feed sends to .u.upd).
inline value trade_columns(const std::vector<std::string>& syms, int64_t first = 0) {
    return value::list(trades(syms, first).items[0].items[1].items);
}

/// (`upd;`t;data)
inline value upd(const std::string& t, value data, const std::string& fn = "upd") {
    return value::list({value::symbol(fn), value::symbol(t), std::move(data)});
}

/// Decodes a whole message; fails the test on error.
inline value decode_msg(std::span<const uint8_t> m) {
    qipc::frame_header h;
    value v;
    const qipc::status st = qipc::decode_message(m, h, v);
    REQUIRE_MESSAGE(st.ok(), qipc::errc_name(st.code), " at ", st.offset);
    return v;
}

}  // namespace qgate::pubsub::test
