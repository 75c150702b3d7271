// Batching for a publish interval (TorQ chained tickerplant `pubinterval`, tick.q `-t`): the
// updates of one table received during the interval are held (by reference, no copy) and
// merged at the end of it into one `(`upd;`t;table)` whose rows are all of theirs, in arrival
// order. The merged update is then filtered like any other. Runs on the publishing shard;
// flush allocates exactly one buffer, add never allocates once the batcher has warmed up.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qgate/pubsub/pubsub_types.h"
#include "qgate/pubsub/update.h"
#include "qgate/pubsub/update_buffer.h"

namespace qgate::pubsub {

class batcher {
  public:
    /// Holds `u` (parsed from `msg`'s body, which `msg` keeps alive) for the next flush.
    /// schema_mismatch when its columns differ in number or type from the held ones: flush
    /// first, then add it to the next batch. big_endian: forward it on its own.
    status add(const update_view& u, update_ref msg);
    bool empty() const { return held_.empty(); }
    uint64_t rows() const { return rows_; }
    uint32_t updates() const { return static_cast<uint32_t>(held_.size()); }

    /// One message with every held row (header included), in one exact-size buffer; empty
    /// when nothing is held. `names` names the columns when the held data has none (as for
    /// publish_for). Releases the held updates.
    status flush(update_ref& out, std::span<const uint8_t> names = {});

  private:
    struct held {
        update_view u;
        update_ref msg;
    };
    std::vector<held> held_;
    uint64_t rows_ = 0;
    // flush()'s scratch, kept so that a warmed-up batcher allocates only the merged buffer.
    std::vector<const update_view*> views_;
    std::vector<qipc::walker> walkers_;
    std::vector<qipc::child_cursor> cursors_;
};

}  // namespace qgate::pubsub
