// SyncWorker: one background thread per process that runs blocking durability work (the event
// file's fsyncs) while the delivery goes on, so that they overlap with Dovecot's own writing and
// syncing of the message instead of adding to it (README.md, "Overlapped fsyncs").
//
// Dovecot's processes are single-threaded and its functions are not thread-safe: work given to
// the worker must not call Dovecot (or log through it). The thread blocks every signal, so
// Dovecot's signal handlers keep running on Dovecot's thread. Its result, an error text or "", is taken
// back by the delivery thread with wait(), which then logs it.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace mailward::webhook {

class SyncWorker {
 public:
  struct Job;
  using Work = std::function<std::string()>;  // returns "" on success, else what failed

  // The process's worker, started on first use and never destroyed (the plugin is never unloaded,
  // see -z nodelete in CMakeLists.txt; a detached thread waiting for work ends with the process).
  static SyncWorker& instance();

  // Queues WORK for the background thread. When no thread can be started, runs WORK at once on
  // the calling thread (the delivery then simply does not overlap it).
  std::shared_ptr<Job> submit(Work work);
  // Blocks until JOB has run; returns its result. Each job is waited for once.
  std::string wait(const std::shared_ptr<Job>& job);

  // Tests make workers of their own. The thread keeps the queue alive, so a worker may be
  // destroyed with jobs pending; the thread then idles until the process ends.
  SyncWorker() = default;
  SyncWorker(const SyncWorker&) = delete;
  SyncWorker& operator=(const SyncWorker&) = delete;

 private:
  struct Shared;
  bool ensure_thread();

  std::shared_ptr<Shared> shared_;
};

}  // namespace mailward::webhook
