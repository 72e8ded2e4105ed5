/* The C interface between the Dovecot-facing plugin code (plugin.c, plain C against Pigeonhole's
 * headers) and the C++ logic (webhook_logic.h, mailward_notify). Every function is noexcept from
 * C's point of view: bridge.cpp catches every exception and turns it into a return value and a log
 * line through the caller's callback. Strings are NUL-terminated UTF-8 owned by the caller. */
#ifndef MAILWARD_SIEVE_WEBHOOK_BRIDGE_H
#define MAILWARD_SIEVE_WEBHOOK_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum mw_log_level { MW_LOG_DEBUG = 0, MW_LOG_INFO = 1, MW_LOG_WARNING = 2, MW_LOG_ERROR = 3 };
typedef void mw_log_fn(void *ctx, enum mw_log_level level, const char *text);

/* The administrator's notification settings ([notify] and [target.*] of mailward.conf). */
struct mw_webhook_config;

/* Loads and validates PATH with parse_notify_settings. Returns NULL when the file cannot be read
 * or is invalid (the reason is logged at MW_LOG_ERROR through LOG). A file that was already
 * loaded and has not changed (same inode, size and mtime) is not parsed again. */
struct mw_webhook_config *mw_webhook_config_load(const char *path, mw_log_fn *log, void *ctx);
void mw_webhook_config_free(struct mw_webhook_config *config);

unsigned mw_webhook_target_count(const struct mw_webhook_config *config);
unsigned mw_webhook_per_message_limit(const struct mw_webhook_config *config);
/* 1 when a target with this exact name is configured. */
int mw_webhook_has_target(const struct mw_webhook_config *config, const char *name);
/* Whether USER may notify TARGET: MW_TARGET_OK, or why not. */
enum mw_target_use { MW_TARGET_OK = 0, MW_TARGET_UNKNOWN = 1, MW_TARGET_USER_NOT_ALLOWED = 2 };
enum mw_target_use mw_webhook_target_use(const struct mw_webhook_config *config, const char *target,
                                         const char *user);
/* Bytes of body text the target wants in the event (0: none, or unknown target). */
size_t mw_webhook_snippet_bytes(const struct mw_webhook_config *config, const char *name);
/* Comma-separated target names, for error messages; writes at most SIZE bytes (NUL included). */
void mw_webhook_target_names(const struct mw_webhook_config *config, char *out, size_t size);

int mw_webhook_priority_valid(const char *text);
int mw_webhook_field_name_valid(const char *name);

enum mw_add_decision { MW_ADD = 0, MW_ADD_DUPLICATE = 1, MW_ADD_OVER_LIMIT = 2 };
enum mw_add_decision mw_webhook_decide_add(const char *const *recorded, size_t count,
                                           const char *target, unsigned limit);

struct mw_webhook_field {
  const char *name;
  const char *value;
};

struct mw_webhook_request {
  const char *target;
  const char *title;     /* "" when absent */
  const char *message;   /* "" when absent */
  const char *priority;  /* "normal" when absent */
  const struct mw_webhook_field *fields;
  size_t field_count;
  const char *url;       /* NULL when absent */
};

struct mw_webhook_message {
  const char *user;
  const char *mailbox;
  const char *envelope_from;
  const char *header_from;
  const char *to;
  const char *subject;
  const char *message_id;
  uint64_t size;
  const char *raw;       /* start of the raw message (headers and body), may be NULL */
  size_t raw_size;       /* bytes at RAW (a prefix of the message is enough for a snippet) */
};

enum mw_commit_status { MW_COMMIT_WRITTEN = 0, MW_COMMIT_REFUSED = 1, MW_COMMIT_FAILED = 2 };
/* Writing one event, in three steps that follow Pigeonhole's action phases (README.md,
 * "Overlapped fsyncs"): the file's fsync overlaps with Dovecot storing the message, the
 * directory's with the rest of the delivery, and the delivery is answered only after both.
 *
 * mw_webhook_prepare (Sieve execute phase): builds the event, writes it into SPOOL/tmp/ and starts
 * its fsync asynchronously (Linux AIO, async_fsync.h). Returns NULL when there is nothing to publish, with *STATUS
 * REFUSED (a reason that is the script's or the administrator's: unknown target, user not
 * allowed; logged as a warning) or FAILED (the spool could not be written; logged as an error with
 * the path and errno text). Warnings about dropped parts are logged too.
 * mw_webhook_publish (commit): waits for the file's fsync, renames it into SPOOL/new/ (notifyd
 * takes it from there) and starts the fsync of new/. WRITTEN or FAILED (logged).
 * mw_webhook_finish (always last, also after a rollback or without publish): waits for the
 * fsyncs still running; an event not published is removed from tmp/. Frees PENDING. */
struct mw_webhook_pending;
struct mw_webhook_pending *mw_webhook_prepare(const struct mw_webhook_config *config,
                                              const struct mw_webhook_request *request,
                                              const struct mw_webhook_message *message,
                                              mw_log_fn *log, void *ctx,
                                              enum mw_commit_status *status);
enum mw_commit_status mw_webhook_publish(struct mw_webhook_pending *pending, mw_log_fn *log,
                                         void *ctx);
void mw_webhook_finish(struct mw_webhook_pending *pending, mw_log_fn *log, void *ctx);
/* The three steps at once (notify::write_event's guarantee: durable in new/ on WRITTEN). */
enum mw_commit_status mw_webhook_commit(const struct mw_webhook_config *config,
                                        const struct mw_webhook_request *request,
                                        const struct mw_webhook_message *message,
                                        mw_log_fn *log, void *ctx);
#ifdef __cplusplus
}
#endif

#endif
