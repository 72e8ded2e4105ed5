#include "milters/milter/libmilter_adapter.h"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <vector>

#include "common/log/log.h"
#include "common/util/text.h"

namespace mailward::milter {

namespace {

Engine* g_engine = nullptr;

// Per-connection state (smfi_setpriv).
struct Connection {
  Envelope connection;  // client address, name and HELO; copied into each message's envelope
  Envelope message;
  std::unique_ptr<MessageScan> scan;
  bool leading_space = false;  // SMFIP_HDR_LEADSPC negotiated: values keep their leading space
  unsigned long protocol = 0;  // the SMFIP_* flags negotiated (which stages expect no reply)
  bool failed = false;         // an internal error in a no-reply stage: answered at end of message
};

// Stages whose replies we give up (fewer round trips per message): nothing is decided before the
// end of the message, so the MTA need not wait for "continue" after each header and body chunk.
constexpr unsigned long kNoReplyStages = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL |
                                         SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH |
                                         SMFIP_NR_BODY | SMFIP_NR_UNKN | SMFIP_NR_DATA;

Connection* connection_of(SMFICTX* ctx) { return static_cast<Connection*>(smfi_getpriv(ctx)); }

std::string macro(SMFICTX* ctx, const char* name) {
  const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
  return v ? std::string(v) : std::string();
}

sfsistat fail_mode_reply(SMFICTX* ctx) {
  if (g_engine && g_engine->settings().fail_mode == FailMode::accept) return SMFIS_ACCEPT;
  smfi_setreply(ctx, const_cast<char*>("451"), const_cast<char*>("4.3.0"),
                const_cast<char*>("Temporary local problem checking this message; try again later"));
  return SMFIS_TEMPFAIL;
}

// "Continue" for a stage: no reply at all when the MTA agreed not to wait for one there.
sfsistat proceed(const Connection* conn, unsigned long no_reply_flag) {
  return conn && (conn->protocol & no_reply_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

// Runs one callback body; any exception becomes the configured fail mode, never a crash. In a
// stage that sends no reply the failure is remembered and answered at the end of the message.
template <typename Body>
sfsistat guarded(SMFICTX* ctx, const char* stage, unsigned long no_reply_flag, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    std::string qid;
    if (Connection* c = connection_of(ctx)) qid = c->message.queue_id;
    log::for_message(log::Level::error, qid, "internal error in ", stage, ": ", e.what(),
                     "; answering with the fail mode");
  } catch (...) {
    log::error("internal error in ", stage, "; answering with the fail mode");
  }
  Connection* conn = connection_of(ctx);
  if (conn && (conn->protocol & no_reply_flag)) {
    conn->failed = true;
    return SMFIS_NOREPLY;
  }
  return fail_mode_reply(ctx);
}

// Postfix hands header values with LF line endings in folds; DKIM needs CRLF (message.h).
std::string header_value(const char* raw, bool leading_space) {
  std::string v = mail::to_crlf(raw ? raw : "");
  if (!leading_space) v.insert(v.begin(), ' ');
  return v;
}

// Values we add go back with LF folds, and without the leading space unless it was negotiated.
std::string milter_value(const std::string& value, bool leading_space) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\r' && i + 1 < value.size() && value[i + 1] == '\n') continue;
    out.push_back(value[i]);
  }
  if (!leading_space && !out.empty() && out.front() == ' ') out.erase(0, 1);
  return out;
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                      unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                      unsigned long* pf3) {
  return guarded(ctx, "negotiate", 0, [&]() -> sfsistat {
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE);
    // Recipients are not needed to decide; unknown commands and DATA neither.
    *pf1 = f1 & (SMFIP_HDR_LEADSPC | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NORCPT | kNoReplyStages);
    *pf2 = 0;
    *pf3 = 0;
    auto conn = std::make_unique<Connection>();
    conn->leading_space = (f1 & SMFIP_HDR_LEADSPC) != 0;
    conn->protocol = *pf1;
    smfi_setpriv(ctx, conn.release());
    return SMFIS_CONTINUE;
  });
}

// The connection's state; created in negotiate (or here, for an MTA that skips negotiation).
Connection& state(SMFICTX* ctx) {
  Connection* conn = connection_of(ctx);
  if (!conn) {
    auto fresh = std::make_unique<Connection>();
    conn = fresh.get();
    if (smfi_setpriv(ctx, fresh.release()) != MI_SUCCESS) {
      delete conn;
      throw std::runtime_error("smfi_setpriv failed");
    }
  }
  return *conn;
}

sfsistat on_connect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* addr) {
  return guarded(ctx, "connect", SMFIP_NR_CONN, [&]() -> sfsistat {
    Connection& conn = state(ctx);
    conn.connection = Envelope{};
    conn.connection.client_name = hostname ? hostname : "";
    if (addr && addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
      conn.connection.client_ip = net::IpAddress::v4(ntohl(in->sin_addr.s_addr));
    } else if (addr && addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
      std::array<std::uint8_t, 16> bytes{};
      std::memcpy(bytes.data(), &in6->sin6_addr, 16);
      conn.connection.client_ip = net::IpAddress::v6(bytes).unmapped();
    }
    return proceed(&conn, SMFIP_NR_CONN);
  });
}

sfsistat on_helo(SMFICTX* ctx, char* helo) {
  return guarded(ctx, "helo", SMFIP_NR_HELO, [&]() -> sfsistat {
    Connection& conn = state(ctx);
    conn.connection.helo = helo ? helo : "";
    return proceed(&conn, SMFIP_NR_HELO);
  });
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
  return guarded(ctx, "envfrom", SMFIP_NR_MAIL, [&]() -> sfsistat {
    Connection& conn = state(ctx);
    conn.scan.reset();
    conn.message = conn.connection;
    std::string from = (argv && argv[0]) ? argv[0] : "";
    if (from.size() >= 2 && from.front() == '<' && from.back() == '>')
      from = from.substr(1, from.size() - 2);
    conn.message.mail_from = from;
    conn.message.auth_user = macro(ctx, "{auth_authen}");
    return proceed(&conn, SMFIP_NR_MAIL);
  });
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
  return guarded(ctx, "envrcpt", SMFIP_NR_RCPT, [&]() -> sfsistat {
    Connection& conn = state(ctx);
    if (argv && argv[0] && conn.message.recipients.size() < 1000)
      conn.message.recipients.emplace_back(argv[0]);
    return proceed(&conn, SMFIP_NR_RCPT);
  });
}

MessageScan& scan_of(SMFICTX* ctx, Connection& conn) {
  if (!conn.scan) {
    conn.message.queue_id = macro(ctx, "i");
    conn.scan = g_engine->begin(conn.message);
  }
  return *conn.scan;
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
  return guarded(ctx, "header", SMFIP_NR_HDR, [&]() -> sfsistat {
    Connection& conn = state(ctx);
    scan_of(ctx, conn).add_header({name ? name : "", header_value(value, conn.leading_space)});
    return proceed(&conn, SMFIP_NR_HDR);
  });
}

sfsistat on_eoh(SMFICTX* ctx) {
  return guarded(ctx, "eoh", SMFIP_NR_EOH, [&]() -> sfsistat {
    Connection& conn = state(ctx);
    scan_of(ctx, conn).end_of_headers();
    return proceed(&conn, SMFIP_NR_EOH);
  });
}

sfsistat on_body(SMFICTX* ctx, unsigned char* data, size_t size) {
  return guarded(ctx, "body", SMFIP_NR_BODY, [&]() -> sfsistat {
    Connection& conn = state(ctx);
    scan_of(ctx, conn).add_body(std::string_view(reinterpret_cast<const char*>(data), size));
    return proceed(&conn, SMFIP_NR_BODY);
  });
}

sfsistat apply(SMFICTX* ctx, const Connection& conn, const Decision& d) {
  for (const HeaderEdit& e : d.edits) {
    int rc = MI_SUCCESS;
    if (e.kind == HeaderEdit::Kind::remove) {
      rc = smfi_chgheader(ctx, const_cast<char*>(e.name.c_str()), e.index, nullptr);
    } else {
      std::string v = milter_value(e.value, conn.leading_space);
      rc = smfi_insheader(ctx, e.index, const_cast<char*>(e.name.c_str()), v.data());
    }
    if (rc != MI_SUCCESS)
      log::for_message(log::Level::warning, conn.message.queue_id, "could not edit header ", e.name);
  }
  auto reply = [&] {
    if (d.reply_code.empty()) return;
    std::string text = d.reply_text;
    smfi_setreply(ctx, const_cast<char*>(d.reply_code.c_str()),
                  d.enhanced_code.empty() ? nullptr : const_cast<char*>(d.enhanced_code.c_str()),
                  text.data());
  };
  switch (d.action) {
    case Action::accept:
      return SMFIS_ACCEPT;
    case Action::hold: {
      std::string reason = d.hold_reason.empty() ? "mailward" : d.hold_reason;
      if (smfi_quarantine(ctx, reason.data()) != MI_SUCCESS)
        log::for_message(log::Level::warning, conn.message.queue_id, "could not put on hold");
      return SMFIS_ACCEPT;
    }
    case Action::reject:
      reply();
      return SMFIS_REJECT;
    case Action::tempfail:
      reply();
      return SMFIS_TEMPFAIL;
  }
  return SMFIS_ACCEPT;
}

sfsistat on_eom(SMFICTX* ctx) {
  return guarded(ctx, "eom", 0, [&]() -> sfsistat {
    Connection& conn = state(ctx);
    if (conn.failed) {  // an earlier no-reply stage failed: this message gets the fail mode
      conn.failed = false;
      conn.scan.reset();
      return fail_mode_reply(ctx);
    }
    Decision d = scan_of(ctx, conn).finish();
    sfsistat rc = apply(ctx, conn, d);
    conn.scan.reset();
    return rc;
  });
}

sfsistat on_abort(SMFICTX* ctx) {
  return guarded(ctx, "abort", 0, [&]() -> sfsistat {
    if (Connection* conn = connection_of(ctx)) {
      conn->scan.reset();
      conn->failed = false;
    }
    return SMFIS_CONTINUE;
  });
}

sfsistat on_close(SMFICTX* ctx) {
  try {
    delete connection_of(ctx);
  } catch (...) {
  }
  smfi_setpriv(ctx, nullptr);
  return SMFIS_CONTINUE;
}

}  // namespace

bool register_milter(Engine& engine, const std::string& socket_path, std::string& error) {
  g_engine = &engine;
  static char name[] = "mailward";
  smfiDesc desc{};
  desc.xxfi_name = name;
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE;
  desc.xxfi_connect = on_connect;
  desc.xxfi_helo = on_helo;
  desc.xxfi_envfrom = on_envfrom;
  desc.xxfi_envrcpt = on_envrcpt;
  desc.xxfi_header = on_header;
  desc.xxfi_eoh = on_eoh;
  desc.xxfi_body = on_body;
  desc.xxfi_eom = on_eom;
  desc.xxfi_abort = on_abort;
  desc.xxfi_close = on_close;
  desc.xxfi_negotiate = on_negotiate;
  if (smfi_register(desc) == MI_FAILURE) {
    error = "smfi_register failed";
    return false;
  }
  std::string conn = "unix:" + socket_path;
  if (smfi_setconn(conn.data()) == MI_FAILURE) {
    error = "smfi_setconn failed for " + conn;
    return false;
  }
  smfi_settimeout(static_cast<int>(engine.settings().milter_timeout.count()));
  if (smfi_opensocket(true) == MI_FAILURE) {
    error = "cannot open milter socket " + socket_path +
            " (does the directory exist and is it writable?)";
    return false;
  }
  return true;
}

int run_milter() { return smfi_main(); }

}  // namespace mailward::milter
