// Whole-buffer positional I/O on a file descriptor: the EINTR and short-transfer loops every
// file writer and reader of the spool needs, written once.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace mailward::fdio {

// Writes all SIZE bytes at OFFSET. False on an error (errno set by pwrite).
inline bool pwrite_all(int fd, const char* data, std::size_t size, off_t offset) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads up to SIZE bytes at OFFSET, fewer only at the end of the file. Bytes read, or -1 on an
// error (errno set by pread).
inline ssize_t pread_full(int fd, char* data, std::size_t size, off_t offset) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, data + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace mailward::fdio
