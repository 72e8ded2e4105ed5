// UTC timestamps as text (backup file names, the MTA-STS policy id): strftime over gmtime_r.
#pragma once

#include <ctime>
#include <string>

namespace mailward::setup {

// `t` in UTC formatted by strftime's `fmt` (e.g. "%Y%m%dT%H%M%SZ"); empty when the time cannot be
// broken down or the result would exceed 63 bytes.
std::string utc_format(std::time_t t, const char* fmt);

}  // namespace mailward::setup
