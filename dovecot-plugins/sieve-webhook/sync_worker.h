// SyncWorker: runs blocking durability work (the event file's fsyncs) on a short-lived thread
// while the delivery goes on, so that it overlaps with Dovecot's own writing and syncing of the
// message instead of adding to it (README.md, "Overlapped fsyncs").
//
// One thread per job, started by submit() and joined by wait(): between deliveries the process
// has no second thread. That matters in Dovecot: its processes change credentials (setresuid,
// setgroups, setegid) around every delivery, and in a process with more than one thread glibc has
// to signal every other thread and wait for it to follow each such change (POSIX requires the
// credentials to be per process). A permanent worker thread made each delivery pay about seven such
// signal round trips (strace -c: tgkill/rt_sigreturn/futex per message).
//
// Dovecot's functions are not thread-safe: work given to a job must not call Dovecot (or log
// through it). A job's thread blocks every signal, so Dovecot's signal handlers keep running on
// Dovecot's thread. Its result, an error text or "", is taken back with wait(), whose caller logs it.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace mailward::webhook {

class SyncWorker {
 public:
  struct Job;
  using Work = std::function<std::string()>;  // returns "" on success, else what failed

  // The process's worker (stateless; kept as an object for the tests' sake).
  static SyncWorker& instance();

  // Starts WORK on a thread of its own. When no thread can be started, runs WORK at once on the
  // calling thread (the delivery then simply does not overlap it).
  std::shared_ptr<Job> submit(Work work);
  // Waits for JOB's thread and returns its result. Each job is waited for once (a job never
  // waited for is joined when its last reference goes).
  std::string wait(const std::shared_ptr<Job>& job);
};

}  // namespace mailward::webhook
