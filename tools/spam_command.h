// `mailward spam learn|score`: teach the Bayes classifier from files, Maildirs and mbox files, and
// score messages as the milter would (rules + GTUBE + Bayes, no DNS, no authentication evidence).
//
//   mailward spam learn [--spam PATH...] [--ham PATH...] [--user USER] [--forget]
//                       [--batch N] [--config FILE | --state FILE]
//   mailward spam score [--user USER] [--config FILE | --state FILE] FILE...
//
// PATH: a message file, an mbox file (a file whose first line starts with "From ": split on "From "
// lines that follow an empty line), a Maildir (a directory with cur/ or new/: the files in both), or
// any other directory (every regular file below it, recursively, in name order, each read as a file
// as above), or "-" for standard input (one message or an mbox: what Dovecot's imapsieve pipes).
// For `score`, each FILE is one message (an mbox "From " first line is skipped).
//
// Output of score: one line per FILE, in argument order: "PATH<TAB>SCORE<TAB>spam|ham", SCORE with
// one decimal as in X-Spam-Score; "spam" when SCORE >= the required score ([spam] required_score,
// default 5.0). An unreadable FILE prints an error on `err` and no line; exit status 1 at the end.
// Learning is committed in batches: one store transaction (one fsync of the LMDB file, or one
// Redis MULTI/EXEC) per N messages (--batch, default 1000) and one at the end. A crash or a failed
// commit loses at most the messages of the uncommitted batch (learn them again: the ledger skips
// the ones already learned); the model is never left with part of a batch.
// Output of learn: a summary line "learned: N spam, M ham; already known: K; ..." on `out`.
//
// Where the model lives (the first that applies):
//   --state FILE        an embedded (LMDB) store at FILE;
//   --config FILE       Redis when its [store] backend = redis (shared by several hosts);
//                       otherwise the embedded store at [spam] bayes_path
//                       (default /var/lib/mailward/bayes.mdb);
//   /etc/mailward/mailward.conf, if it exists: the same;
//   otherwise the embedded store at $MAILWARD_STATE_DIR/bayes.mdb, or /var/lib/mailward/bayes.mdb
//   (the directory is created 0700 if missing).
// An embedded Bayes store is always opened durable (every commit synced) and kept apart from the
// rate-limit store, which may be discarded after a crash (common/store/README.md).
//
// Exit status: 0 success, 1 a path could not be read or the store failed, 2 usage or configuration
// error.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace mailward {

// `args` are the words after "spam" (e.g. {"learn", "--spam", "dir"}).
int run_spam_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Splits an mbox text into messages (each without its "From " line). A text that does not start
// with "From " is one message. Exposed for tests.
std::vector<std::string> split_mbox(const std::string& text);

}  // namespace mailward
