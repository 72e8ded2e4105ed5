// mailward-notifyd's event loop: one thread, libcurl multi for many requests in flight, inotify on
// SPOOL/new plus a periodic rescan, signals through a signalfd (SIGTERM/SIGINT: finish in-flight
// requests for up to 5 s and exit; SIGHUP: re-read the secret files), and a tiny HTTP/1.0
// Prometheus endpoint on a loopback port.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "common/notify/targets.h"

namespace mailward::notifyd {

struct Metrics {
  std::uint64_t queued = 0, sent = 0, failed = 0, retried = 0, dead_lettered = 0;
  static constexpr std::array<double, 11> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                       0.5,   1.0,  2.5,   5.0,  10.0};
  std::array<std::uint64_t, 11> bucket_counts{};
  std::uint64_t latency_count = 0;
  double latency_sum = 0;
  std::uint64_t pending = 0;   // gauge
  std::uint64_t in_flight = 0; // gauge

  void observe(double seconds);
  // Prometheus text exposition format 0.0.4.
  std::string render() const;
};

// Runs until SIGTERM/SIGINT. Returns the exit status. `settings` must be valid (parsed).
int run_daemon(const notify::NotifySettings& settings);

}  // namespace mailward::notifyd
