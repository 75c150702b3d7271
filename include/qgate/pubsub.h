// The pub/sub core (DESIGN §7, issue 7) in one include: parse .u.sub and updates, keep the
// schemas and answer .u.sub, filter and republish each update once per distinct filter into a
// refcounted buffer, track subscriptions per shard and bound each subscriber's backlog.
// Pure logic, no I/O; see src/pubsub/README.md for the semantics and the engine's wiring.
#pragma once

#include "qgate/pubsub/backlog.h"
#include "qgate/pubsub/batch.h"
#include "qgate/pubsub/filter.h"
#include "qgate/pubsub/pubsub_types.h"
#include "qgate/pubsub/registry.h"
#include "qgate/pubsub/schema.h"
#include "qgate/pubsub/sub_call.h"
#include "qgate/pubsub/update.h"
#include "qgate/pubsub/update_buffer.h"
