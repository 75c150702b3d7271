// Every handler of the engine's connection kinds, for the .cc files that call across kinds.
#pragma once

#include "proxy/engine.h"
#include "proxy/fanouts.h"
#include "proxy/feed_link.h"
#include "proxy/pool_links.h"
#include "proxy/ps_reader.h"
#include "proxy/pubsub_hub.h"
#include "proxy/request_clients.h"
#include "proxy/session_clients.h"
#include "proxy/subscribers.h"
