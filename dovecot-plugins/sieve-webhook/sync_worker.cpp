// SyncWorker (sync_worker.h): one std::thread per job, started with every signal blocked.
#include "dovecot-plugins/sieve-webhook/sync_worker.h"

#include <pthread.h>
#include <signal.h>

#include <exception>
#include <system_error>
#include <thread>

namespace mailward::webhook {

namespace {

std::string run_catching(const SyncWorker::Work& work) {
  try {
    return work();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "background job failed";
  }
}

}  // namespace

struct SyncWorker::Job {
  Work work;
  std::string result;  // written by the job's thread before it ends, read after join
  std::thread thread;
  ~Job() {
    if (thread.joinable()) thread.join();
  }
};

SyncWorker& SyncWorker::instance() {
  static SyncWorker worker;
  return worker;
}

std::shared_ptr<SyncWorker::Job> SyncWorker::submit(Work work) {
  auto job = std::make_shared<Job>();
  job->work = std::move(work);
  // The thread starts with every signal blocked, so that the kernel delivers Dovecot's signals
  // (SIGTERM, SIGCHLD, SIGALRM, ...) to Dovecot's own thread, never to this one: a new thread
  // inherits the creating thread's mask, which is restored right after.
  sigset_t all, previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  try {
    Job* j = job.get();
    job->thread = std::thread([j] { j->result = run_catching(j->work); });
  } catch (const std::system_error&) {
    job->result = run_catching(job->work);  // no thread: run it here
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return job;
}

std::string SyncWorker::wait(const std::shared_ptr<Job>& job) {
  if (!job) return "no job";
  if (job->thread.joinable()) job->thread.join();
  return job->result;
}

}  // namespace mailward::webhook
