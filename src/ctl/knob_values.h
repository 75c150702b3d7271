// The knob tables' value makers (knobs.cc, knobs_fleet.cc): one line per getter in a table
// needs these, and both tables share them. Control plane only.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ctl/knobs.h"
#include "qgate/ctl.h"

namespace qgate::ctl {

inline knob_value int_value(uint64_t i) {
    knob_value v;
    v.integer = static_cast<int64_t>(i);
    return v;
}

inline knob_value text_value(std::string s) {
    knob_value v;
    v.text = std::move(s);
    return v;
}

inline knob_value bool_value(bool b) {
    knob_value v;
    v.integer = b ? 1 : 0;
    v.text = b ? "true" : "false";
    return v;
}

inline knob_value addr_value(const endpoint& ep) {
    knob_value v;
    v.addr = ep;
    v.text = format_endpoint(ep);
    return v;
}

inline knob_value list_value(const std::vector<std::string>& l) {
    knob_value v;
    v.list = l;
    return v;
}

}  // namespace qgate::ctl
