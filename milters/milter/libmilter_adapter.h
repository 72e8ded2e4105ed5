// The libmilter adapter: turns libmilter callbacks into Engine calls and one Decision back into
// milter replies. It does no checking of its own.
//
// libmilter runs callbacks on a pool of worker threads: per-connection state lives in
// smfi_setpriv(), never in thread_local. No exception crosses into libmilter: every callback catches
// everything and answers with the configured fail mode (tempfail by default; DESIGN.md).
#pragma once

#include <string>

#include "milters/milter/engine.h"

namespace mailward::milter {

// Registers the callbacks and opens the socket (removing a stale one). Returns false, with the
// reason in `error`, when registration or the socket fails.
bool register_milter(Engine& engine, const std::string& socket_path, std::string& error);
// Runs until SIGTERM/SIGINT; returns libmilter's status.
int run_milter();

}  // namespace mailward::milter
