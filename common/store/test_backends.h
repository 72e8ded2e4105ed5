// Test fixtures for store_conformance_test.cpp: one per backend, each opening a fresh store and
// moving time forward (fake clock, or real sleeps for Redis). Test-only.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <filesystem>
#include <cstdlib>
#include <unistd.h>

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

// A fresh temporary directory, removed with its contents at teardown.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mw-store-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

struct LmdbBackend {
  std::string skip_reason;
  FakeClock clock;
  std::unique_ptr<TempDir> dir;
  void setup() {
    dir = std::make_unique<TempDir>();
    if (dir->path.empty()) skip_reason = "cannot create a temporary directory";
  }
  void teardown() { dir.reset(); }
  std::unique_ptr<Store> open() {
    return open_lmdb_store(LmdbSettings{dir->path + "/state.mdb", 16u * 1024 * 1024}, clock.fn());
  }
  void advance(std::chrono::milliseconds d) { clock.advance(d); }
  static std::string describe_prefix() { return "lmdb:"; }
};

}  // namespace mailward::store
