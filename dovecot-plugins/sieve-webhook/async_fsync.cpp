// AsyncFsync (async_fsync.h): one Linux AIO context per process, set up at the first use (again
// after a fork: a context belongs to the process that made it); completions of other pending
// fsyncs seen while waiting for one are recorded on their owners. A request carries a number, not
// its owner's address: an owner that stopped waiting (io_getevents failed) is forgotten, and its
// completion, if it still comes, finds no owner and is dropped.
#include "dovecot-plugins/sieve-webhook/async_fsync.h"

#include <linux/aio_abi.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <unordered_map>

namespace mailward::webhook {

struct AioContext {
  aio_context_t ctx = 0;
  pid_t owner = 0;      // the process that set ctx up
  bool failed = false;  // io_setup refused in this process: synchronous from now on
  bool disabled = false;
  bool fail_next_reap = false;  // testing: the next reap_one fails as io_getevents could
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, AsyncFsync*> pending;  // submitted, not yet reaped or forgotten

  // The context of this process, or 0 when AIO is not available.
  aio_context_t get() {
    if (disabled) return 0;
    const pid_t pid = ::getpid();
    if (owner != pid) {  // first use, or a forked child: the parent's context is not ours
      ctx = 0;
      failed = false;
      owner = pid;
      pending.clear();  // the parent's requests are not this process's
      if (::syscall(SYS_io_setup, 64, &ctx) != 0) {
        ctx = 0;
        failed = true;
      }
    }
    return failed ? 0 : ctx;
  }

  // Waits for one completion and records it on its AsyncFsync. False when waiting failed.
  bool reap_one() {
    if (fail_next_reap) {
      fail_next_reap = false;
      return false;
    }
    io_event ev{};
    long n;
    do {
      n = ::syscall(SYS_io_getevents, ctx, 1L, 1L, &ev, nullptr);
    } while (n < 0 && errno == EINTR);
    if (n != 1) return false;
    const auto it = pending.find(ev.data);
    if (it == pending.end()) return true;  // a forgotten request's completion
    it->second->done_ = true;
    it->second->error_ = ev.res < 0 ? static_cast<int>(-ev.res) : 0;
    pending.erase(it);
    return true;
  }
};

namespace {
AioContext& aio() {
  static AioContext c;
  return c;
}
}  // namespace

void AsyncFsync::disable_aio_for_testing(bool disabled) { aio().disabled = disabled; }
void AsyncFsync::fail_next_reap_for_testing() { aio().fail_next_reap = true; }

bool AsyncFsync::start(int fd, Kind kind) {
  fd_ = fd;
  datasync_ = kind == Kind::data;
  submitted_ = false;
  done_ = false;
  error_ = 0;
  const aio_context_t ctx = aio().get();
  if (ctx == 0 || fd < 0) return false;
  AioContext& c = aio();
  id_ = c.next_id++;
  c.pending[id_] = this;
  iocb cb{};
  cb.aio_data = id_;
  cb.aio_lio_opcode = datasync_ ? IOCB_CMD_FDSYNC : IOCB_CMD_FSYNC;
  cb.aio_fildes = static_cast<__u32>(fd);
  iocb* list[1] = {&cb};
  long n;
  do {
    n = ::syscall(SYS_io_submit, ctx, 1L, list);
  } while (n < 0 && errno == EINTR);
  submitted_ = n == 1;  // EINVAL (a filesystem without AIO fsync), EAGAIN: synchronous in wait()
  if (!submitted_) c.pending.erase(id_);
  return submitted_;
}

int AsyncFsync::wait() {
  if (fd_ < 0) return EBADF;
  if (submitted_) {
    while (!done_) {
      if (!aio().reap_one()) {
        // Cannot wait for the kernel's answer: forget the request (its completion, if it comes,
        // is dropped) and make sure the data is synced the plain way.
        aio().pending.erase(id_);
        submitted_ = false;
        break;
      }
    }
    if (submitted_) {
      submitted_ = false;
      fd_ = -1;
      return error_;
    }
  }
  const int fd = fd_;
  fd_ = -1;
  return (datasync_ ? ::fdatasync(fd) : ::fsync(fd)) == 0 ? 0 : errno;
}

AsyncFsync::~AsyncFsync() {
  if (submitted_) (void)wait();  // the kernel holds a pointer to this object until it completes
}

}  // namespace mailward::webhook
