// qmock's tickerplant mode (tickerplant.h, README.md "Tickerplant mode").
//
// Design note: runs on qmock's only thread, driven by the epoll loop: tick() after every loop
// turn publishes the updates that are due (rate × elapsed time, so a late turn catches up, at
// most kCatchUpMax per turn), and sends .u.end when its interval passed. Each update is built
// once as `(`upd;`trade;table)` and handed to the pub/sub core, which gives every distinct
// subscription filter one buffer (all syms: the message itself); qmock then queues that buffer
// on each subscriber of the filter. Subscriptions are keyed by connection id and forgotten
// when the connection closes. Row k of the feed (global sequence number k, from 0):
//   time = wall clock at publication, sym = syms[k mod n], price = 100 + (k mod 100) * 0.25,
//   size = 100 * (1 + k mod 10), seq = k.

#include "tickerplant.h"

#include <time.h>

#include <cstring>

#include "qgate/qipc/frame.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"
#include "request.h"
#include "server.h"

namespace qmock {
namespace {

namespace qipc = qgate::qipc;
namespace pubsub = qgate::pubsub;
using qipc::msg_type;
using qipc::value;

constexpr int64_t kCatchUpMax = 1000;         // updates published per loop turn at most
constexpr int64_t kUnixTo2000Sec = 946684800;  // 2000.01.01 - 1970.01.01
constexpr uint8_t kGenericNull[] = {0x65, 0x00};

int64_t wall_ns_since_2000() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t(ts.tv_sec) - kUnixTo2000Sec) * 1000000000 + ts.tv_nsec;
}

value longs_of(const std::vector<int64_t>& v) { return value::longs(v); }

/// The trade table with the given rows (n rows from sequence number `seq`).
value trade_rows(const std::vector<std::string>& syms, int64_t seq, int64_t n) {
    std::vector<uint8_t> times;
    std::vector<std::string> s;
    std::vector<double> prices;
    std::vector<int64_t> sizes, seqs;
    const int64_t now = wall_ns_since_2000();
    for (int64_t k = seq; k < seq + n; ++k) {
        const uint8_t* t = reinterpret_cast<const uint8_t*>(&now);
        times.insert(times.end(), t, t + 8);  // x86: host order is little-endian
        s.push_back(syms[size_t(k) % syms.size()]);
        prices.push_back(100 + double(k % 100) * 0.25);
        sizes.push_back(100 * (1 + k % 10));
        seqs.push_back(k);
    }
    return value::table({"time", "sym", "price", "size", "seq"},
                        {value::fixed(qipc::qtype::kTimestamp, times), value::symbols(s),
                         value::floats(prices), longs_of(sizes), longs_of(seqs)});
}

/// The call's function name and first argument: text "f[x]" / "f x" / "f", or a list (`f;x).
bool call_name(std::span<const uint8_t> body, std::string_view& name, std::string_view& text_arg,
               qipc::object_view& arg) {
    const qipc::walker w(body, true);
    qipc::object_view top;
    if (!w.at(0, top).ok()) return false;
    if (top.type == qipc::qtype::kChar) {
        std::string_view t = qipc::char_text(top);
        size_t end = 0;
        while (end < t.size() && (std::isalnum(uint8_t(t[end])) || t[end] == '.')) ++end;
        name = t.substr(0, end);
        text_arg = t.substr(end);
        return true;
    }
    if (top.type != qipc::qtype::kList || top.count == 0) return false;
    qipc::child_cursor cur(w, top);
    qipc::object_view f;
    cur.next(f);
    if (f.type == -qipc::qtype::kSymbol) name = qipc::symbol_text(f);
    else if (f.type == qipc::qtype::kChar) name = qipc::char_text(f);
    else return false;
    cur.next(arg);
    return true;
}

/// A count argument: "[5]" / " 5" text, or a long / int / whole float atom.
bool count_arg(std::string_view text, const qipc::object_view& arg, int64_t& n) {
    if (!arg.bytes.empty()) {
        std::vector<uint8_t> b(arg.bytes.begin(), arg.bytes.end());
        value v;
        if (!qipc::decode(b, true, v).ok() || v.raw.size() < 4) return false;
        if (v.type == -qipc::qtype::kLong) std::memcpy(&n, v.raw.data(), 8);
        else if (v.type == -qipc::qtype::kInt) n = int32_t(qipc::load_u32(v.raw.data(), true));
        else if (v.type == -qipc::qtype::kFloat) {
            double d = 0;
            std::memcpy(&d, v.raw.data(), 8);
            n = int64_t(d);
        } else return false;
        return true;
    }
    std::string t(text);
    for (char& c : t) {
        if (c == '[' || c == ']') c = ' ';
    }
    char* end = nullptr;
    n = std::strtoll(t.c_str(), &end, 10);
    return end != t.c_str();
}

}  // namespace

tickerplant::tickerplant(server& srv, const tp_options& opt) : srv_(srv), opt_(opt) {
    value schema = trade_rows(opt_.syms, 0, 0);
    schema.items[0].items[1].items[1].attr = 4;  // `g# on sym, as u.q's sub reply has it
    schemas_.add("trade", encode_body(schema));
    start_ns_ = now_ns();
    next_end_ns_ = start_ns_ + uint64_t(opt_.end_ms) * 1000000u;
    date_ = int32_t(wall_ns_since_2000() / (86400 * int64_t{1000000000}));
}

void tickerplant::on_sub(conn& c, msg_type type, std::span<const uint8_t> body) {
    pubsub::sub_request r;
    const pubsub::status st = pubsub::parse_sub(body, true, type, r);
    std::string_view missing;
    std::vector<uint8_t> reply;
    if (st.ok()) {
        const pubsub::status rs = pubsub::build_sub_reply(schemas_, r, reply, missing);
        if (!rs.ok()) {
            if (type == msg_type::sync) srv_.send_error(c, missing);  // q: 'tablename
            return;
        }
    } else {
        const bool rank = st.code == pubsub::errc::rank;
        if (type == msg_type::sync) srv_.send_error(c, rank ? "rank" : "type");
        return;
    }
    const pubsub::sym_filter f = r.all_syms ? pubsub::sym_filter::all()
                                            : pubsub::sym_filter::of(pubsub::to_strings(r.syms));
    std::vector<std::string> tables;
    if (r.all_tables) {
        for (uint32_t i = 0; i < schemas_.size(); ++i) tables.emplace_back(schemas_.name(i));
    } else {
        tables = pubsub::to_strings(r.tables);
    }
    for (const std::string& t : tables) subs_.subscribe(c.id, t, f);
    if (srv_.opts().verbose) log_line("connection %llu subscribed", (unsigned long long)c.id);
    if (r.wants_reply()) srv_.send(c, msg_type::response, std::span(reply).subspan(8));
}

/// A feed calling .u.upd[t;x] (a table, a list of columns or one row): published as given,
/// to the subscribers of t, tabled with the schema's column names. A table not yet known is
/// learnt from a table update; a column list for an unknown table is the error 't.
void tickerplant::on_upd(conn& c, msg_type type, std::span<const uint8_t> body) {
    pubsub::update_view u;
    pubsub::status st = pubsub::parse_update(body, true, u, &schemas_);
    if (st.ok()) st = schemas_.learn(u);
    if (!st.ok()) {
        const bool unknown = st.code == pubsub::errc::unknown_table;
        if (type == msg_type::sync) srv_.send_error(c, unknown ? std::string(u.table) : "type");
        if (srv_.opts().verbose) log_line(".u.upd refused: %s", pubsub::errc_name(st.code));
        return;
    }
    ++published_;
    const int32_t id = schemas_.find(u.table);
    fan_out(u, {}, schemas_.column_names(uint32_t(id)));
    if (type == msg_type::sync) srv_.send(c, msg_type::response, kGenericNull);
}

bool tickerplant::handle(conn& c, msg_type type, std::span<const uint8_t> body) {
    if (pubsub::is_sub_call(body, true)) {
        on_sub(c, type, body);
        return true;
    }
    if (pubsub::is_update_call(body, true)) {
        on_upd(c, type, body);
        return true;
    }
    std::string_view name, text;
    qipc::object_view arg;
    if (!call_name(body, name, text, arg)) return false;
    std::vector<uint8_t> out;
    int64_t n = 0;
    if (name == ".u.endofday") {
        end_of_day();
        out.assign(kGenericNull, kGenericNull + 2);
    } else if (name == ".u.pub") {
        if (!count_arg(text, arg, n) || n < 0) {
            if (type == msg_type::sync) srv_.send_error(c, "type");
            return true;
        }
        publish(n);
        out = encode_body(value::long_(n));
    } else if (name == ".u.i") {
        out = encode_body(value::long_(published_));
    } else {
        return false;
    }
    if (type == msg_type::sync) srv_.send(c, msg_type::response, out);
    return true;
}

std::vector<uint8_t> tickerplant::make_update_message() {
    const value v = value::list({value::symbol("upd"), value::symbol("trade"),
                                 trade_rows(opt_.syms, seq_, opt_.rows)});
    seq_ += opt_.rows;
    ++published_;
    return qipc::encode_message(v, msg_type::async);
}

void tickerplant::publish_one() {
    const std::vector<uint8_t> msg = make_update_message();
    pubsub::update_view u;
    if (!pubsub::parse_update(std::span(msg).subspan(8), true, u).ok()) return;
    fan_out(u, pubsub::update_ref::copy_of(msg), {});
}

void tickerplant::fan_out(const pubsub::update_view& u, pubsub::update_ref msg,
                          std::span<const uint8_t> names) {
    pubsub::publish_ctx ctx{&u, std::move(msg), names, &scratch_, {}};
    for (const pubsub::filter_group& g : subs_.groups(u.table)) {
        pubsub::publish_kind kind{};
        pubsub::update_ref buf;
        if (!pubsub::publish_for(ctx, g.filter, kind, buf).ok() || !buf) continue;
        for (pubsub::subscriber_id id : g.subscribers) {
            conn* c = srv_.find_conn(id);
            if (c != nullptr) srv_.send(*c, msg_type::async, buf.bytes().subspan(8));
        }
    }
}

void tickerplant::publish(int64_t updates) {
    for (int64_t i = 0; i < updates; ++i) {
        if (opt_.updates_max > 0 && published_ >= opt_.updates_max) return;
        publish_one();
    }
}

void tickerplant::end_of_day() {
    uint8_t msg[pubsub::kEndMessageSize];
    pubsub::write_end_message(date_, msg);
    subs_.for_each_subscriber([&](pubsub::subscriber_id id) {
        if (conn* c = srv_.find_conn(id)) {
            srv_.send(*c, msg_type::async, std::span<const uint8_t>(msg).subspan(8));
        }
    });
    ++date_;
}

void tickerplant::tick(uint64_t now) {
    if (opt_.rate > 0) {
        const auto due = int64_t(double(now - start_ns_) * opt_.rate / 1e9);
        if (due > published_) publish(std::min(due - published_, kCatchUpMax));
    }
    if (opt_.end_ms > 0 && now >= next_end_ns_) {
        end_of_day();
        next_end_ns_ += uint64_t(opt_.end_ms) * 1000000u;
    }
}

int tickerplant::next_timeout_ms(uint64_t now) const {
    int64_t best = -1;
    const bool more = opt_.updates_max == 0 || published_ < opt_.updates_max;
    if (opt_.rate > 0 && more) {
        const auto due = start_ns_ + uint64_t(double(published_ + 1) * 1e9 / opt_.rate);
        best = due <= now ? 0 : int64_t((due - now + 999999) / 1000000);
    }
    if (opt_.end_ms > 0) {
        const int64_t e =
            next_end_ns_ <= now ? 0 : int64_t((next_end_ns_ - now + 999999) / 1000000);
        best = best < 0 ? e : std::min(best, e);
    }
    return int(best);
}

void tickerplant::drop(uint64_t conn_id) { subs_.unsubscribe_all(conn_id); }

}  // namespace qmock
