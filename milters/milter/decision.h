// The one verdict type every adapter renders (libmilter today; `mailward verify` prints it).
//
// The engine (scan.h) decides; the adapter only translates: an Action becomes SMFIS_*, the reply
// becomes smfi_setreply, each HeaderEdit becomes smfi_insheader / smfi_chgheader. The log line and the
// reply are separate fields: what the peer is told is not everything the operator needs to know.
#pragma once

#include <string>
#include <vector>

namespace mailward::milter {

enum class Action {
  accept,    // deliver (with the header edits)
  reject,    // 5xx: only ever from an explicit policy (DMARC p=reject), never from an internal error
  tempfail,  // 4xx: the sender retries
  hold,      // deliver into Postfix's hold queue (DMARC quarantine with quarantine = hold)
};

std::string_view to_string(Action action) noexcept;

struct HeaderEdit {
  enum class Kind { insert, remove };
  Kind kind = Kind::insert;
  std::string name;
  std::string value;       // for insert: the exact bytes after ':' (leading space, folds as "\r\n\t")
  int index = 0;           // insert: position (0 = top); remove: 1-based occurrence among fields named `name`
};

struct Decision {
  Action action = Action::accept;
  std::string reply_code;      // "550", "451"; empty: the MTA's default for the action
  std::string enhanced_code;   // "5.7.1"
  std::string reply_text;      // for the client: short, readable, no secrets
  std::string hold_reason;     // for Action::hold
  std::vector<HeaderEdit> edits;   // applied in order (removals first)
  std::string log;             // one line for the operator: every verdict and why
};

}  // namespace mailward::milter
