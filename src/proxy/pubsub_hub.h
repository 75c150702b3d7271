// Pub/sub hub and lanes (not a connection kind): shard 0 owns schemas, the filter directory
// and publishing; every shard delivers to its own subscribers; shards talk over SPSC lanes
// (pubsub_hub.cc, pubsub_state.h). Owner: the shard's thread; ps_shard lives with the engine.
#pragma once

#include "proxy/conn_handler.h"
#include "proxy/engine.h"

namespace qgate::proxy {

class pubsub_hub final {
  public:
    explicit pubsub_hub(engine& e) : e_(e) {}
    engine& e_;

    void ps_send(uint32_t to, ps_msg&& m);
    void ps_on_msg(uint32_t from, ps_msg& m);
    void ps_drain();
    void ps_flush_lanes();
    void ps_refill();
    void ps_throttle(session& ss, role r);
    void ps_unthrottle();
    bool ps_busy() const;
    void hub_sub(ps_sub_order* o);
    void hub_unsub(uint32_t shard, uint32_t session, uint32_t gen);
    void hub_publish(pubsub::update_ref msg, bool little_endian);
    bool hub_batch(uint32_t table, const pubsub::update_view& u, const pubsub::update_ref& msg);
    void hub_flush_batches(uint64_t now_ms);
    void hub_fanout(pubsub::publish_ctx& ctx, uint32_t table);
    void hub_add(uint32_t shard, uint32_t table, uint64_t key, const pubsub::update_ref& u);
    void hub_flush_pending();

    std::unique_ptr<ps_shard> ps_;
};

}  // namespace qgate::proxy
