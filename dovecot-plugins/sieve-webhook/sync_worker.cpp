// SyncWorker (sync_worker.h): a FIFO of jobs, one detached thread, a mutex and two condition
// variables (work queued, job done).
#include "dovecot-plugins/sieve-webhook/sync_worker.h"

#include <pthread.h>
#include <signal.h>

#include <system_error>
#include <thread>

namespace mailward::webhook {

struct SyncWorker::Job {
  Work work;
  bool done = false;
  std::string result;
};

struct SyncWorker::Shared {
  std::mutex mutex;
  std::condition_variable queued;
  std::condition_variable finished;
  std::deque<std::shared_ptr<Job>> queue;
};

SyncWorker& SyncWorker::instance() {
  static SyncWorker* worker = new SyncWorker();  // never destroyed, see the header
  return *worker;
}

bool SyncWorker::ensure_thread() {
  if (shared_) return true;
  auto shared = std::make_shared<Shared>();
  // The thread starts with every signal blocked, so that the kernel delivers Dovecot's signals
  // (SIGTERM, SIGCHLD, SIGALRM, ...) to Dovecot's own thread, never to this one: a new thread
  // inherits the creating thread's mask, which is restored right after.
  sigset_t all, previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  bool started = true;
  try {
    std::thread([shared] {
      // The thread holds its own reference: Shared outlives any SyncWorker object.
      for (;;) {
        std::shared_ptr<Job> job;
        {
          std::unique_lock<std::mutex> lock(shared->mutex);
          shared->queued.wait(lock, [&] { return !shared->queue.empty(); });
          job = std::move(shared->queue.front());
          shared->queue.pop_front();
        }
        std::string result;
        try {
          result = job->work();
        } catch (const std::exception& e) {
          result = e.what();
        } catch (...) {
          result = "background job failed";
        }
        {
          std::lock_guard<std::mutex> lock(shared->mutex);
          job->result = std::move(result);
          job->done = true;
        }
        shared->finished.notify_all();
      }
    }).detach();
  } catch (const std::system_error&) {
    started = false;  // no thread: the caller runs the work inline
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (!started) return false;
  shared_ = std::move(shared);
  return true;
}

std::shared_ptr<SyncWorker::Job> SyncWorker::submit(Work work) {
  auto job = std::make_shared<Job>();
  job->work = std::move(work);
  if (!ensure_thread()) {
    try {
      job->result = job->work();
    } catch (const std::exception& e) {
      job->result = e.what();
    } catch (...) {
      job->result = "background job failed";
    }
    job->done = true;
    return job;
  }
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->queue.push_back(job);
  }
  shared_->queued.notify_one();
  return job;
}

std::string SyncWorker::wait(const std::shared_ptr<Job>& job) {
  if (!job) return "no job";
  if (!shared_) return job->result;  // ran inline
  std::unique_lock<std::mutex> lock(shared_->mutex);
  shared_->finished.wait(lock, [&] { return job->done; });
  return job->result;
}

}  // namespace mailward::webhook
