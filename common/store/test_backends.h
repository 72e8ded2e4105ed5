// Test fixtures for store_conformance_test.cpp: one per backend, each opening a fresh store and
// moving time forward (fake clock, or real sleeps for Redis). Test-only.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/store/store.h"

namespace mailward::store {

// A clock tests move by hand; shared by the store and the test.
struct FakeClock {
  std::shared_ptr<std::atomic<std::int64_t>> ms =
      std::make_shared<std::atomic<std::int64_t>>(1'800'000'000'000);
  std::function<Clock::time_point()> fn() const {
    auto p = ms;
    return [p] { return Clock::time_point(std::chrono::milliseconds(p->load())); };
  }
  void advance(std::chrono::milliseconds d) { *ms += d.count(); }
};

struct MemoryBackend {
  std::string skip_reason;
  FakeClock clock;
  void setup() {}
  void teardown() {}
  std::unique_ptr<Store> open() { return open_memory_store(clock.fn()); }
  void advance(std::chrono::milliseconds d) { clock.advance(d); }
  static std::string describe_prefix() { return "memory"; }
};

}  // namespace mailward::store
