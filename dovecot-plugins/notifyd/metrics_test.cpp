// Tests for the Prometheus text rendering of notifyd's counters and latency histogram.
#include <gtest/gtest.h>

#include "dovecot-plugins/notifyd/daemon.h"

namespace mailward::notifyd {
namespace {

TEST(NotifydMetrics, Renders) {
  Metrics m;
  m.sent = 3;
  m.dead_lettered = 1;
  m.observe(0.004);
  m.observe(0.2);
  m.observe(30);
  std::string text = m.render();
  for (const char* line : {"mailward_notify_sent_total 3\n", "mailward_notify_dead_lettered_total 1\n",
                           "mailward_notify_queued_total 0\n", "# TYPE mailward_notify_send_seconds histogram\n",
                           "mailward_notify_send_seconds_bucket{le=\"0.005\"} 1\n",
                           "mailward_notify_send_seconds_bucket{le=\"0.1\"} 1\n",
                           "mailward_notify_send_seconds_bucket{le=\"0.25\"} 2\n",
                           "mailward_notify_send_seconds_bucket{le=\"10\"} 2\n",
                           "mailward_notify_send_seconds_bucket{le=\"+Inf\"} 3\n",
                           "mailward_notify_send_seconds_count 3\n", "mailward_notify_send_seconds_sum 30.204\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

}  // namespace
}  // namespace mailward::notifyd
