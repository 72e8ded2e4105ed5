// The C bridge (bridge.h) between plugin.c and the C++ logic: every entry point catches every
// exception, so none crosses into Dovecot; failures become return values plus a log line.
#include "dovecot-plugins/sieve-webhook/bridge.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>

#include "common/config/config.h"
#include "common/notify/event.h"
#include "common/notify/slot.h"
#include "common/notify/targets.h"
#include "dovecot-plugins/sieve-webhook/async_fsync.h"
#include "dovecot-plugins/sieve-webhook/webhook_logic.h"

struct mw_webhook_config {
  std::shared_ptr<const mailward::notify::NotifySettings> settings;
};

// An event between prepare and finish (bridge.h). Either in a slot (README.md, "Event slots"):
// written as prepared with its fdatasync running from prepare, flipped to ready at publish, the
// fdatasync waited for by finish; or, when it is too large for a
// slot or no slot is free, an event file: written in tmp/ with its fsync running from prepare,
// renamed into new/ at publish, new/ fsynced by finish.
struct mw_webhook_pending {
  mailward::notify::SlotClaim slot;         // fd >= 0: the event goes into this slot
  mailward::webhook::AsyncFsync slot_sync;  // the slot's fdatasync, started at prepare
  mailward::notify::PreparedEvent prepared;
  mailward::webhook::AsyncFsync file_sync;  // the tmp/ file's fsync, started at prepare
  mailward::webhook::AsyncFsync dir_sync;   // new/'s fsync, started at publish
  int dir_fd = -1;                          // new/, open while its fsync runs
  std::string target;
  std::string id;
  std::string spool;
  std::string dir_error;  // new/ could not be opened for its fsync
  bool published = false;

  // Whatever path ends the event (finish, or an exception between prepare and finish): its
  // fsyncs are waited for, and an event never published leaves nothing in tmp/.
  ~mw_webhook_pending() {
    if (slot_sync.started()) (void)slot_sync.wait();
    mailward::notify::release_slot(slot);  // unpublished: marked free again
    if (file_sync.started()) (void)file_sync.wait();
    if (!published) mailward::notify::discard_prepared(prepared);
    if (dir_sync.started()) (void)dir_sync.wait();
    if (dir_fd >= 0) ::close(dir_fd);
  }
};

namespace {

using mailward::notify::NotifySettings;

void emit(mw_log_fn* log, void* ctx, mw_log_level level, const std::string& text) noexcept {
  if (log != nullptr) log(ctx, level, text.c_str());
}

// Logs the exception being handled, as an error: PREFIX + what(), or PREFIX + "unknown error".
// Only inside a catch block.
void emit_caught(mw_log_fn* log, void* ctx, const char* prefix) noexcept {
  try {
    try {
      throw;
    } catch (const std::exception& e) {
      emit(log, ctx, MW_LOG_ERROR, std::string(prefix) + e.what());
      return;
    } catch (...) {
    }
    emit(log, ctx, MW_LOG_ERROR, std::string(prefix) + "unknown error");
  } catch (...) {  // no memory even for the line: nothing more to do
  }
}

// One parsed file per process (an LMTP process creates a Sieve instance for every delivery, and
// with it loads the plugin; parsing again only when the file changed keeps that cheap).
struct Cache {
  std::mutex mutex;
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = -1;
  struct timespec mtime {};
  std::shared_ptr<const NotifySettings> settings;
};
Cache& cache() {
  static Cache c;
  return c;
}

const char* str_or_empty(const char* s) { return s == nullptr ? "" : s; }

std::string lost_text(const mw_webhook_pending& p, const std::string& error) {
  return "webhook: failed to write notification event for target \"" + p.target + "\" into spool " +
         p.spool + ": " + error + " (message delivered, notification lost)";
}

// The line for an event that notifyd will now see, at PATH (its slot or its file in new/).
std::string queued_text(const mw_webhook_pending& p, const std::string& path) {
  return "webhook: queued notification " + p.id + " for target \"" + p.target + "\" (" + path + ")";
}

}  // namespace

extern "C" {

mw_webhook_config* mw_webhook_config_load(const char* path, mw_log_fn* log, void* ctx) {
  try {
    const std::string file = str_or_empty(path);
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
      emit(log, ctx, MW_LOG_ERROR,
           "cannot read mailward configuration " + file + ": " + std::strerror(errno));
      return nullptr;
    }
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.settings == nullptr || c.path != file || c.dev != st.st_dev || c.ino != st.st_ino ||
        c.size != st.st_size || c.mtime.tv_sec != st.st_mtim.tv_sec ||
        c.mtime.tv_nsec != st.st_mtim.tv_nsec) {
      const auto config = mailward::config::Config::load_file(file);
      auto settings =
          std::make_shared<const NotifySettings>(mailward::notify::parse_notify_settings(config));
      c.path = file;
      c.dev = st.st_dev;
      c.ino = st.st_ino;
      c.size = st.st_size;
      c.mtime = st.st_mtim;
      c.settings = std::move(settings);
    }
    return new mw_webhook_config{c.settings};
  } catch (...) {
    emit_caught(log, ctx, "invalid mailward configuration: ");
  }
  return nullptr;
}

void mw_webhook_config_free(mw_webhook_config* config) { delete config; }

unsigned mw_webhook_target_count(const mw_webhook_config* config) {
  if (config == nullptr || config->settings == nullptr) return 0;
  return static_cast<unsigned>(config->settings->targets.size());
}

unsigned mw_webhook_per_message_limit(const mw_webhook_config* config) {
  if (config == nullptr || config->settings == nullptr) return 0;
  return config->settings->per_message_limit;
}

int mw_webhook_has_target(const mw_webhook_config* config, const char* name) {
  if (config == nullptr || config->settings == nullptr || name == nullptr) return 0;
  return config->settings->find(name) != nullptr ? 1 : 0;
}

mw_target_use mw_webhook_target_use(const mw_webhook_config* config, const char* target,
                                    const char* user) {
  if (config == nullptr || config->settings == nullptr || target == nullptr)
    return MW_TARGET_UNKNOWN;
  try {
    const auto* t = config->settings->find(target);
    if (t == nullptr) return MW_TARGET_UNKNOWN;
    return t->allows_user(str_or_empty(user)) ? MW_TARGET_OK : MW_TARGET_USER_NOT_ALLOWED;
  } catch (...) {
    return MW_TARGET_UNKNOWN;
  }
}

size_t mw_webhook_snippet_bytes(const mw_webhook_config* config, const char* name) {
  if (config == nullptr || config->settings == nullptr || name == nullptr) return 0;
  const auto* t = config->settings->find(name);
  return t == nullptr ? 0 : t->snippet_bytes;
}

void mw_webhook_target_names(const mw_webhook_config* config, char* out, size_t size) {
  if (out == nullptr || size == 0) return;
  out[0] = '\0';
  if (config == nullptr || config->settings == nullptr) return;
  try {
    std::string names;
    for (const auto& t : config->settings->targets) {
      if (!names.empty()) names += ", ";
      names += t.name;
    }
    const std::string cut = mailward::webhook::truncate_utf8(names, size - 1);
    std::memcpy(out, cut.data(), cut.size());
    out[cut.size()] = '\0';
  } catch (...) {
    out[0] = '\0';
  }
}

int mw_webhook_priority_valid(const char* text) {
  return text != nullptr && mailward::webhook::parse_priority(text).has_value() ? 1 : 0;
}

int mw_webhook_field_name_valid(const char* name) {
  return name != nullptr && mailward::webhook::is_field_name(name) ? 1 : 0;
}

mw_add_decision mw_webhook_decide_add(const char* const* recorded, size_t count,
                                      const char* target, unsigned limit) {
  try {
    std::vector<std::string> names;
    names.reserve(count);
    for (size_t i = 0; i < count; ++i) names.emplace_back(str_or_empty(recorded[i]));
    switch (mailward::webhook::decide_add(names, str_or_empty(target), limit)) {
      case mailward::webhook::AddDecision::add: return MW_ADD;
      case mailward::webhook::AddDecision::duplicate: return MW_ADD_DUPLICATE;
      case mailward::webhook::AddDecision::over_limit: return MW_ADD_OVER_LIMIT;
    }
  } catch (...) {
  }
  return MW_ADD_OVER_LIMIT;  // out of memory: record nothing rather than fail delivery
}

mw_webhook_pending* mw_webhook_prepare(const mw_webhook_config* config,
                                       const mw_webhook_request* request,
                                       const mw_webhook_message* message, mw_log_fn* log,
                                       void* ctx, mw_commit_status* status) {
  mw_commit_status ignored;
  if (status == nullptr) status = &ignored;
  *status = MW_COMMIT_FAILED;
  try {
    if (config == nullptr || config->settings == nullptr || request == nullptr ||
        message == nullptr) {
      emit(log, ctx, MW_LOG_ERROR, "webhook: internal error (no configuration)");
      return nullptr;
    }
    const NotifySettings& settings = *config->settings;
    mailward::webhook::Request req;
    req.target = str_or_empty(request->target);
    req.title = str_or_empty(request->title);
    req.message = str_or_empty(request->message);
    req.priority = request->priority == nullptr ? "normal" : request->priority;
    for (size_t i = 0; i < request->field_count; ++i)
      req.fields.emplace_back(str_or_empty(request->fields[i].name),
                              str_or_empty(request->fields[i].value));
    if (request->url != nullptr) req.url = request->url;

    mailward::webhook::MessageFacts facts;
    facts.user = str_or_empty(message->user);
    facts.mailbox = str_or_empty(message->mailbox);
    facts.envelope_from = str_or_empty(message->envelope_from);
    facts.header_from = str_or_empty(message->header_from);
    facts.to = str_or_empty(message->to);
    facts.subject = str_or_empty(message->subject);
    facts.message_id = str_or_empty(message->message_id);
    facts.size = message->size;
    const auto* target = settings.find(req.target);
    if (target != nullptr && target->snippet_bytes > 0 && message->raw != nullptr)
      facts.body_text =
          mailward::webhook::body_text(std::string_view(message->raw, message->raw_size));

    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const auto time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
    mailward::webhook::BuildResult built = mailward::webhook::build_event(
        settings, req, facts, static_cast<std::int64_t>(time_ms), mailward::notify::new_event_id());
    for (const std::string& w : built.warnings) emit(log, ctx, MW_LOG_WARNING, "webhook: " + w);
    if (!built.event) {
      emit(log, ctx, MW_LOG_WARNING, "webhook: no notification: " + built.refused);
      *status = MW_COMMIT_REFUSED;
      return nullptr;
    }
    auto pending = std::make_unique<mw_webhook_pending>();
    pending->target = req.target;
    pending->id = built.event->id;
    pending->spool = settings.spool;
    std::string error;
    if (!mailward::notify::is_event_id(built.event->id)) {
      emit(log, ctx, MW_LOG_ERROR, lost_text(*pending, "event id is not 32 lowercase hex characters"));
      return nullptr;
    }
    const std::string json = mailward::notify::serialize(*built.event);
    // A slot when the event fits and one is free; otherwise (no slots/ in an older spool, all
    // busy while notifyd is stopped) an event file, with the same guarantee.
    if (json.size() <= mailward::notify::kSlotCapacity &&
        mailward::notify::claim_slot(settings.spool, pending->slot, error)) {
      if (mailward::notify::fill_slot(pending->slot, json, error)) {
        // The fdatasync runs while Dovecot stores the message; finish waits for it.
        pending->slot_sync.start(pending->slot.fd, mailward::webhook::AsyncFsync::Kind::data);
        *status = MW_COMMIT_WRITTEN;
        return pending.release();
      }
      emit(log, ctx, MW_LOG_WARNING, "webhook: " + error + "; writing an event file instead");
      mailward::notify::release_slot(pending->slot);
    }
    error.clear();
    if (!mailward::notify::prepare_event(settings.spool, *built.event, pending->prepared, error)) {
      emit(log, ctx, MW_LOG_ERROR, lost_text(*pending, error));
      return nullptr;
    }
    // The file's fsync runs while Dovecot stores the message; publish waits for it.
    pending->file_sync.start(pending->prepared.fd);
    *status = MW_COMMIT_WRITTEN;
    return pending.release();
  } catch (...) {
    emit_caught(log, ctx, "webhook: notification not written: ");
  }
  return nullptr;
}

mw_commit_status mw_webhook_publish(mw_webhook_pending* p, mw_log_fn* log, void* ctx) {
  if (p == nullptr) return MW_COMMIT_FAILED;
  try {
    std::string error;
    if (p->slot.fd >= 0) {
      if (!mailward::notify::mark_slot_ready(p->slot, error)) {
        emit(log, ctx, MW_LOG_ERROR, lost_text(*p, error));
        return MW_COMMIT_FAILED;
      }
      p->published = true;
      emit(log, ctx, MW_LOG_INFO, queued_text(*p, p->slot.path));
      return MW_COMMIT_WRITTEN;
    }
    const int sync_errno = p->file_sync.wait();
    // Each step removes the tmp/ file when it fails.
    if (!mailward::notify::complete_sync(p->prepared, sync_errno, error) ||
        !mailward::notify::publish_prepared(p->prepared, error)) {
      emit(log, ctx, MW_LOG_ERROR, lost_text(*p, error));
      return MW_COMMIT_FAILED;
    }
    p->published = true;
    // The rename is durable once new/ is fsynced; finish waits for that before the delivery is
    // answered.
    p->dir_fd = ::open(p->prepared.new_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->dir_fd >= 0) p->dir_sync.start(p->dir_fd);
    else p->dir_error = "open " + p->prepared.new_dir + ": " + std::strerror(errno);
    emit(log, ctx, MW_LOG_INFO, queued_text(*p, p->prepared.new_path));
    return MW_COMMIT_WRITTEN;
  } catch (...) {
    emit_caught(log, ctx, "webhook: notification not written: ");
  }
  return MW_COMMIT_FAILED;
}

void mw_webhook_finish(mw_webhook_pending* p, mw_log_fn* log, void* ctx) {
  if (p == nullptr) return;
  std::unique_ptr<mw_webhook_pending> owned(p);  // its destructor removes an unpublished event
  try {
    std::string error = p->dir_error;
    if (p->slot_sync.started()) {
      const int e = p->slot_sync.wait();
      if (e != 0) error = "fdatasync " + p->slot.path + ": " + std::strerror(e);
      mailward::notify::release_slot(p->slot);
    }
    if (p->dir_sync.started()) {
      const int e = p->dir_sync.wait();
      if (e != 0) error = "fsync " + p->prepared.new_dir + ": " + std::strerror(e);
    }
    // In new/, but the directory fsync failed (README: spool modes).
    if (p->published && !error.empty())
      emit(log, ctx, MW_LOG_WARNING, "webhook: notification queued but not synced: " + error);
  } catch (...) {
    emit_caught(log, ctx, "webhook: ");
  }
}

mw_commit_status mw_webhook_commit(const mw_webhook_config* config,
                                   const mw_webhook_request* request,
                                   const mw_webhook_message* message, mw_log_fn* log,
                                   void* ctx) {
  mw_commit_status status = MW_COMMIT_FAILED;
  mw_webhook_pending* p = mw_webhook_prepare(config, request, message, log, ctx, &status);
  if (p == nullptr) return status;
  status = mw_webhook_publish(p, log, ctx);
  mw_webhook_finish(p, log, ctx);
  return status;
}

}  // extern "C"
