// Who subscribes to what, per shard, grouped by distinct filter so each filter's buffer is
// made once and sent from the same bytes to every subscriber of the group; plus the
// cross-shard view the publishing shard needs (filter_directory). Control-plane mutations
// (subscribe, disconnect) may allocate; the per-update lookup (groups) does not.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "qgate/pubsub/filter.h"
#include "qgate/pubsub/pubsub_types.h"

namespace qgate::pubsub {

/// One distinct filter of one table and the subscribers that share it.
struct filter_group {
    sym_filter filter;
    std::vector<subscriber_id> subscribers;
};

/// One shard's subscriptions. Spans returned by groups() stay valid until the next mutation.
class registry {
  public:
    /// Subscribes `s` to `table` with `f`. As u.q's sub (del then add), a second call for the
    /// same table replaces the filter; `previous` (when given) receives the replaced filter and
    /// the result says whether there was one (the engine tells the directory).
    bool subscribe(subscriber_id s, std::string_view table, sym_filter f,
                   sym_filter* previous = nullptr);
    /// Drops s's subscription to `table`; false when there was none.
    bool unsubscribe(subscriber_id s, std::string_view table);
    /// Drops every subscription of s (disconnect); returns how many there were.
    uint32_t unsubscribe_all(subscriber_id s);

    /// The groups of `table` (empty when nobody subscribes). Per update: no allocation.
    std::span<const filter_group> groups(std::string_view table) const;
    /// The group of `table` with filter `f` (integer key compare first), or nullptr: where a
    /// shard delivers a buffer the publishing shard made for that filter.
    const filter_group* find_group(std::string_view table, const sym_filter& f) const;
    /// The filter `s` has for `table`, or nullptr.
    const sym_filter* filter_of(subscriber_id s, std::string_view table) const;
    /// Tables `s` subscribes to.
    std::span<const std::string> tables_of(subscriber_id s) const;
    /// Distinct subscribers (for .u.end, which goes to each subscriber once).
    uint32_t subscriber_count() const { return static_cast<uint32_t>(by_sub_.size()); }
    template <class F>
    void for_each_subscriber(F&& f) const {
        for (const auto& [s, tables] : by_sub_) f(s);
    }

  private:
    bool remove(subscriber_id s, std::string_view table);
    std::map<std::string, std::vector<filter_group>, std::less<>> by_table_;
    std::unordered_map<subscriber_id, std::vector<std::string>> by_sub_;
};

/// The publishing shard's view of every shard's filters: per table, each distinct filter with
/// a subscription count per shard. Per update the publisher encodes each entry once and sends
/// one mailbox message per shard whose mask bit is set (shard ids 0..63).
class filter_directory {
  public:
    struct entry {
        sym_filter filter;
        std::vector<uint32_t> counts;  ///< subscriptions per shard
        uint64_t shard_mask = 0;       ///< bit i: shard i has at least one
    };
    /// One more (add) or one fewer (remove) subscription with `f` on `shard`.
    void add(uint32_t shard, std::string_view table, const sym_filter& f);
    bool remove(uint32_t shard, std::string_view table, const sym_filter& f);
    std::span<const entry> filters(std::string_view table) const;

  private:
    std::map<std::string, std::vector<entry>, std::less<>> by_table_;
};

}  // namespace qgate::pubsub
