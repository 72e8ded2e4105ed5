// AsyncFsync: an fsync started now and waited for later, so that the event file's fsyncs overlap
// with Dovecot's own writing and syncing of the message instead of adding to it (README.md,
// "Overlapped fsyncs").
//
// Linux AIO (io_submit with IOCB_CMD_FSYNC, kernel 4.18 or later): the kernel runs the fsync on
// its own worker while the delivery goes on; no thread is added to Dovecot's process. That
// matters: Dovecot changes credentials (setresuid, setgroups, setegid) around every delivery,
// and glibc makes every other thread of the process follow each change by a signal round trip;
// threads of our own (tried first) cost about seven such round trips, or two thread starts, per
// message. Where AIO is unavailable (no context can be set up, or the submission is refused), the
// fsync runs synchronously in wait(): same result, no overlap.
//
// Not thread-safe (Dovecot's delivery processes are single-threaded). The fd must stay open until
// wait() returns.
#pragma once

#include <cstdint>
#include <string>

namespace mailward::webhook {

class AsyncFsync {
 public:
  AsyncFsync() = default;
  AsyncFsync(const AsyncFsync&) = delete;
  AsyncFsync& operator=(const AsyncFsync&) = delete;
  ~AsyncFsync();  // waits for a started fsync (its result is then dropped)

  // fsync, or fdatasync (an event slot: data overwritten in place, no metadata to sync).
  enum class Kind { full, data };
  // Starts fsync(FD) (or fdatasync). False when it could not be started asynchronously; wait()
  // then runs it.
  bool start(int fd, Kind kind = Kind::full);
  // Waits for the fsync started by start() (or runs it now) and returns 0 or its errno.
  int wait();
  bool started() const { return fd_ >= 0; }

  // For tests: makes start() behave as if AIO were unavailable in this process.
  static void disable_aio_for_testing(bool disabled);
  // For tests: the next wait for a completion fails as if io_getevents had.
  static void fail_next_reap_for_testing();

 private:
  int fd_ = -1;
  std::uint64_t id_ = 0;  // the request's number in the process's AIO context
  bool submitted_ = false;
  bool datasync_ = false;
  bool done_ = false;
  int error_ = 0;
  friend struct AioContext;
};

}  // namespace mailward::webhook
