// Pub/sub ingest, the frame reader of the connections that carry updates (publishers and the
// feed link): each frame is read with recv_into straight into the refcounted buffer it is
// published from (ps_reader.cc). Owner: the shard's thread; no state of its own beyond the
// connection's ps_conn.
#pragma once

#include "proxy/conn_handler.h"
#include "proxy/engine.h"

namespace qgate::proxy {

class ps_reader final : public frame_sink {
  public:
    explicit ps_reader(engine& e) : e_(e) {}
    engine& e_;

    bool reading(const session& ss) const override;
    read_target target(session& ss) override;
    void took(session& ss, uint32_t n, bool now) override;
    uint32_t pull_max() const override;


    void ps_took(session& ss, uint32_t n);
    bool ps_header(session& ss);
    qipc::header_limits ps_header_limits(const session& ss) const;
    static bool ps_reading(const session& ss);

};

}  // namespace qgate::proxy
