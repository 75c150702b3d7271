#include <doctest/doctest.h>
#include "pubsub_test_util.h"
