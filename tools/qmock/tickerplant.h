// qmock --tickerplant: a fake kdb+tick tickerplant. Publishes `trade` updates at a fixed rate
// to the connections that called .u.sub, answers .u.sub as u.q does, and sends .u.end[d] on
// .u.endofday[] or every --tp-end-ms. Built on the pub/sub core (src/pubsub), so qmock also
// exercises its parser, reply builder, filters and registry against real clients.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qgate/pubsub.h"
#include "qgate/qipc/types.h"

namespace qmock {

class server;
struct conn;

struct tp_options {
    bool enabled = false;
    double rate = 10;                  ///< updates per second (0: only on .u.pub[n])
    int64_t rows = 1;                  ///< rows per update
    std::vector<std::string> syms = {"AAPL", "MSFT", "IBM", "GOOG"};
    int64_t end_ms = 0;                ///< .u.end every end_ms (0: only on .u.endofday[])
    int64_t updates_max = 0;           ///< stop publishing after this many updates (0: never)
};

class tickerplant {
  public:
    tickerplant(server& srv, const tp_options& opt);

    /// Handles tickerplant calls (.u.sub, .u.upd, .u.endofday, .u.pub, .u.i); false for
    /// anything else.
    bool handle(conn& c, qgate::qipc::msg_type type, std::span<const uint8_t> body);
    /// Publishes what is due at `now_ns`; sends .u.end when its interval has passed.
    void tick(uint64_t now_ns);
    /// Milliseconds until tick() has work, -1 for none.
    int next_timeout_ms(uint64_t now_ns) const;
    /// Forgets a closed connection's subscriptions.
    void drop(uint64_t conn_id);

  private:
    void on_sub(conn& c, qgate::qipc::msg_type type, std::span<const uint8_t> body);
    void on_upd(conn& c, qgate::qipc::msg_type type, std::span<const uint8_t> body);
    /// Sends update `u` (whose message is `msg`) to the subscribers of its table.
    void fan_out(const qgate::pubsub::update_view& u, qgate::pubsub::update_ref msg,
                 std::span<const uint8_t> names);
    void publish(int64_t updates);
    void publish_one();
    void end_of_day();
    std::vector<uint8_t> make_update_message();

    server& srv_;
    tp_options opt_;
    qgate::pubsub::schema_store schemas_;
    qgate::pubsub::registry subs_;
    qgate::pubsub::row_selection scratch_;
    uint64_t start_ns_ = 0;
    uint64_t next_end_ns_ = 0;
    int64_t published_ = 0;  ///< updates made (.u.i)
    int64_t seq_ = 0;        ///< next row's sequence number
    int32_t date_ = 0;       ///< the current day (days since 2000.01.01), +1 at each .u.end
};

}  // namespace qmock
