// Micro-benchmark of the per-update pub/sub work on the publishing shard: parse an update,
// then per distinct filter select rows and encode (or pass the received buffer through).
// Built by tests/pubsub/meson.build when Google Benchmark is installed; run by hand:
// build/tests/pubsub/pubsub_bench. The update is ~4 KiB: 100 trade rows over 8 syms.

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "qgate/pubsub.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"

namespace {

using namespace qgate::pubsub;
using qgate::qipc::value;

std::vector<uint8_t> update_message(size_t rows) {
    const char* syms[] = {"AAPL", "MSFT", "IBM", "GOOG", "AMZN", "META", "NVDA", "TSLA"};
    std::vector<std::string> s;
    std::vector<int64_t> longs;
    std::vector<double> prices;
    std::vector<uint8_t> times;
    for (size_t i = 0; i < rows; ++i) {
        s.emplace_back(syms[i % 8]);
        longs.push_back(int64_t(i));
        prices.push_back(100.0 + double(i));
        for (int b = 0; b < 8; ++b) times.push_back(uint8_t(i >> (8 * b)));
    }
    const value t = value::table(
        {"time", "sym", "price", "size", "seq"},
        {value::fixed(qgate::qipc::qtype::kTimestamp, times), value::symbols(s),
         value::floats(prices), value::longs(longs), value::longs(longs)});
    return qgate::qipc::encode_message(
        value::list({value::symbol("upd"), value::symbol("trade"), t}),
        qgate::qipc::msg_type::async);
}

void BM_parse_update(benchmark::State& st) {
    const auto msg = update_message(100);
    for (auto _ : st) {
        update_view u;
        benchmark::DoNotOptimize(parse_update(std::span(msg).subspan(8), true, u));
    }
    st.SetBytesProcessed(int64_t(st.iterations() * msg.size()));
}
BENCHMARK(BM_parse_update);

/// parse + publish_for with `filters` distinct filters (the first is all syms).
void BM_publish(benchmark::State& st) {
    const auto msg = update_message(100);
    const update_ref received = update_ref::copy_of(msg);
    std::vector<sym_filter> filters = {sym_filter::all()};
    const char* picks[] = {"AAPL", "MSFT", "IBM", "GOOG", "AMZN", "META", "NVDA"};
    for (int64_t i = 1; i < st.range(0); ++i) filters.push_back(sym_filter::of({picks[i % 7]}));
    row_selection scratch;
    for (auto _ : st) {
        update_view u;
        parse_update(std::span(msg).subspan(8), true, u);
        publish_ctx ctx{&u, received, {}, &scratch, {}};
        for (const sym_filter& f : filters) {
            publish_kind kind{};
            update_ref out;
            publish_for(ctx, f, kind, out);
            benchmark::DoNotOptimize(out);
        }
    }
}
BENCHMARK(BM_publish)->Arg(1)->Arg(2)->Arg(8);

void BM_backlog_push_pop(benchmark::State& st) {
    backlog q;
    const update_ref u = update_ref::copy_of(update_message(100));
    for (auto _ : st) {
        q.push(0, u);
        update_ref out;
        q.pop(out);
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(BM_backlog_push_pop);

}  // namespace

BENCHMARK_MAIN();
