// `mailward spam learn|score` (see spam_command.h): reads messages from files, Maildirs, mbox files
// and directories, learns them into the Bayes model in the state store, or scores them with the
// spam checker (rules + GTUBE + Bayes) exactly as the milter's scoring function does.
#include "tools/spam_command.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <system_error>

#include "common/config/config.h"
#include "common/store/store.h"
#include "milters/spam/bayes/bayes.h"
#include "milters/spam/bayes/classifier.h"
#include "milters/spam/bayes/model_store.h"
#include "milters/spam/content/parsed_mail.h"
#include "milters/spam/content/tokenize.h"
#include "milters/spam/rules/spam.h"

namespace mailward {

namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage =
    "usage: mailward spam learn [--spam PATH...] [--ham PATH...] [--user USER] [--forget]\n"
    "                           [--batch N] [--config FILE | --state FILE]\n"
    "       mailward spam score [--user USER] [--config FILE | --state FILE] FILE...\n";
constexpr const char* kDefaultConfig = "/etc/mailward/mailward.conf";
constexpr const char* kDefaultStateDir = "/var/lib/mailward";
constexpr std::size_t kDefaultBatch = 1000;

bool read_file(const fs::path& path, std::string& out, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec(errno, std::generic_category());
    why = ec.message();
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    why = "read error";
    return false;
  }
  out = std::move(ss).str();
  return true;
}

bool is_mbox_separator(std::string_view line) {
  // "From " followed by something (an address, a date); a body line ">From " is escaped already.
  return line.size() > 5 && line.substr(0, 5) == "From ";
}

// The files a PATH names, in order: a file; a Maildir's cur/ and new/; a directory, recursively.
bool collect(const fs::path& path, std::vector<fs::path>& files, std::ostream& err) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    err << "mailward spam: " << path.string() << ": "
        << (ec ? ec.message() : std::string("No such file or directory")) << "\n";
    return false;
  }
  if (!fs::is_directory(st)) {
    files.push_back(path);
    return true;
  }
  std::vector<fs::path> found;
  bool maildir = fs::is_directory(path / "cur", ec) || fs::is_directory(path / "new", ec);
  auto walk = [&](const fs::path& dir, bool recursive) -> bool {
    std::error_code e;
    if (recursive) {
      fs::recursive_directory_iterator it(dir, fs::directory_options::none, e), end;
      for (; !e && it != end; it.increment(e)) {
        if (it->is_regular_file(e)) found.push_back(it->path());
      }
    } else {
      fs::directory_iterator it(dir, e), end;
      for (; !e && it != end; it.increment(e)) {
        if (it->is_regular_file(e)) found.push_back(it->path());
      }
    }
    if (e) {
      err << "mailward spam: " << dir.string() << ": " << e.message() << "\n";
      return false;
    }
    return true;
  };
  bool ok = true;
  if (maildir) {
    for (const char* sub : {"cur", "new"}) {
      if (fs::is_directory(path / sub, ec)) ok = walk(path / sub, false) && ok;
    }
  } else {
    ok = walk(path, true);
  }
  std::sort(found.begin(), found.end());
  files.insert(files.end(), found.begin(), found.end());
  return ok;
}

struct Target {
  std::unique_ptr<store::Store> store;
  double required_score = 5.0;
  spam::SpamSettings settings;
  spam::bayes::Params params;
};

// Opens the store per the rules in spam_command.h. Returns 0, or the exit status after an error.
int open_target(const std::string& config_path, const std::string& state_path, Target& t,
                std::ostream& err) {
  try {
    // The model's store is chosen as the milter chooses it (model_store.h): durable, own file.
    if (!state_path.empty()) {
      t.store = spam::bayes::open_bayes_file(state_path);
    } else {
      std::string path = config_path;
      std::error_code ec;
      if (path.empty() && fs::exists(kDefaultConfig, ec)) path = kDefaultConfig;
      if (!path.empty()) {
        config::Config cfg = config::Config::load_file(path);
        t.settings = spam::load_spam_settings(cfg);
        t.params = spam::bayes::load_bayes_params(cfg);
        t.store = spam::bayes::open_bayes_store(cfg);
      } else {
        std::string dir = kDefaultStateDir;
        if (const char* env = std::getenv("MAILWARD_STATE_DIR"); env && *env) dir = env;
        fs::create_directories(dir, ec);
        if (ec) {
          err << "mailward spam: cannot create " << dir << ": " << ec.message() << "\n";
          return 1;
        }
        ::chmod(dir.c_str(), 0700);
        t.store = spam::bayes::open_bayes_file(dir + "/bayes.mdb");
      }
    }
  } catch (const config::ConfigError& e) {
    err << "mailward spam: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    err << "mailward spam: cannot open the state store: " << e.what() << "\n";
    return 1;
  }
  t.required_score = t.settings.required_score;
  return 0;
}

const char* outcome_word(spam::bayes::LearnOutcome o) {
  using spam::bayes::LearnOutcome;
  switch (o) {
    case LearnOutcome::learned: return "learned";
    case LearnOutcome::relearned: return "relearned";
    case LearnOutcome::already: return "already";
    case LearnOutcome::forgotten: return "forgotten";
    case LearnOutcome::not_learned: return "not_learned";
    case LearnOutcome::failed: return "failed";
  }
  return "failed";
}

int run_learn(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::pair<std::string, spam::bayes::Label>> paths;
  std::string user, config_path, state_path;
  bool forget = false;
  std::size_t batch = kDefaultBatch;
  std::optional<spam::bayes::Label> current;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& dst) {
      if (i + 1 >= args.size()) return false;
      dst = args[++i];
      return true;
    };
    if (a == "--spam") current = spam::bayes::Label::spam;
    else if (a == "--ham") current = spam::bayes::Label::ham;
    else if (a == "--forget") forget = true;
    else if (a == "--batch") {
      std::string v;
      if (!value(v) || v.empty() || v.find_first_not_of("0123456789") != std::string::npos ||
          v.size() > 9 || std::stoul(v) == 0) {
        err << "mailward spam learn: --batch needs a number of messages >= 1\n" << kUsage;
        return 2;
      }
      batch = std::stoul(v);
    }
    else if (a == "--user") { if (!value(user)) { err << kUsage; return 2; } }
    else if (a == "--config") { if (!value(config_path)) { err << kUsage; return 2; } }
    else if (a == "--state") { if (!value(state_path)) { err << kUsage; return 2; } }
    else if (a.size() > 1 && a[0] == '-') {
      err << "mailward spam learn: unknown option " << a << "\n" << kUsage;
      return 2;
    } else if (!current) {
      err << "mailward spam learn: " << a << ": say --spam or --ham before the paths\n" << kUsage;
      return 2;
    } else {
      paths.emplace_back(a, *current);
    }
  }
  if (paths.empty()) {
    err << "mailward spam learn: no paths\n" << kUsage;
    return 2;
  }
  if (!spam::bayes::valid_user(user)) {
    err << "mailward spam learn: invalid user name \"" << user << "\"\n";
    return 2;
  }
  Target t;
  if (int rc = open_target(config_path, state_path, t, err); rc != 0) return rc;
  spam::bayes::StoreModel model(*t.store);
  int status = 0;
  std::size_t counts[6] = {};
  std::size_t spam_n = 0, ham_n = 0;
  // One store transaction per `batch` messages (spam_command.h): the counts reported are those
  // committed; a failed commit stops with status 1 and loses only that batch.
  std::size_t in_batch = 0;
  std::size_t committed[6] = {};
  std::size_t committed_spam = 0, committed_ham = 0;
  auto commit = [&]() -> bool {
    spam::bayes::ModelStatus st = model.commit();
    in_batch = 0;
    if (!st.ok()) {
      err << "mailward spam: " << model.describe() << ": commit failed, the last "
          << "batch was not learned: " << st.detail << "\n";
      return false;
    }
    std::copy(std::begin(counts), std::end(counts), std::begin(committed));
    committed_spam = spam_n;
    committed_ham = ham_n;
    return true;
  };
  model.begin_batch();
  for (const auto& [path, label] : paths) {
    std::vector<fs::path> files;
    if (path == "-") {
      files.emplace_back("-");  // standard input: one message or an mbox (imapsieve pipes)
    } else if (!collect(path, files, err)) {
      status = 1;
    }
    for (const fs::path& f : files) {
      std::string text, why;
      if (f == "-") {
        std::ostringstream ss;
        ss << std::cin.rdbuf();
        text = std::move(ss).str();
      } else if (!read_file(f, text, why)) {
        err << "mailward spam: " << f.string() << ": " << why << "\n";
        status = 1;
        continue;
      }
      for (const std::string& msg : split_mbox(text)) {
        std::vector<std::uint64_t> tokens = spam::tokenize(spam::parse_mail(msg));
        spam::bayes::LearnResult r = spam::bayes::learn(model, user, tokens, label, forget,
                                                              spam::bayes::raw_message_digest(msg));
        counts[static_cast<std::size_t>(r.outcome)]++;
        if (r.status != spam::bayes::Status::ok) {
          err << "mailward spam: " << f.string() << ": " << model.describe() << ": " << r.detail
              << "\n";
          return 1;
        }
        if (r.outcome == spam::bayes::LearnOutcome::learned ||
            r.outcome == spam::bayes::LearnOutcome::relearned) {
          (label == spam::bayes::Label::spam ? spam_n : ham_n)++;
        }
        if (++in_batch >= batch) {
          if (!commit()) return 1;
          model.begin_batch();
        }
      }
    }
  }
  if (!commit()) return 1;
  std::copy(std::begin(committed), std::end(committed), std::begin(counts));
  spam_n = committed_spam;
  ham_n = committed_ham;
  using spam::bayes::LearnOutcome;
  spam::bayes::Counts totals;
  model.totals(user, totals);
  if (forget) {
    out << "forgotten: " << counts[static_cast<std::size_t>(LearnOutcome::forgotten)]
        << "; not learned before: " << counts[static_cast<std::size_t>(LearnOutcome::not_learned)];
  } else {
    out << "learned: " << spam_n << " spam, " << ham_n << " ham"
        << " (moved from the other class: " << counts[static_cast<std::size_t>(LearnOutcome::relearned)]
        << "); already known: " << counts[static_cast<std::size_t>(LearnOutcome::already)];
  }
  out << "; model " << (user.empty() ? std::string("global") : "user " + user) << ": "
      << totals.spam << " spam, " << totals.ham << " ham messages (" << model.describe() << ")\n";
  (void)outcome_word;
  return status;
}

int run_score(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string user, config_path, state_path;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& dst) {
      if (i + 1 >= args.size()) return false;
      dst = args[++i];
      return true;
    };
    if (a == "--user") { if (!value(user)) { err << kUsage; return 2; } }
    else if (a == "--config") { if (!value(config_path)) { err << kUsage; return 2; } }
    else if (a == "--state") { if (!value(state_path)) { err << kUsage; return 2; } }
    else if (a == "--") { files.insert(files.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end()); break; }
    else if (a.size() > 1 && a[0] == '-') {
      err << "mailward spam score: unknown option " << a << "\n" << kUsage;
      return 2;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    err << "mailward spam score: no files\n" << kUsage;
    return 2;
  }
  if (!spam::bayes::valid_user(user)) {
    err << "mailward spam score: invalid user name \"" << user << "\"\n";
    return 2;
  }
  Target t;
  if (int rc = open_target(config_path, state_path, t, err); rc != 0) return rc;
  auto model = std::make_shared<spam::bayes::StoreModel>(*t.store);
  auto classifier = std::make_shared<spam::bayes::BayesClassifier>(model, t.params);
  std::unique_ptr<spam::SpamChecker> checker;
  try {
    checker = std::make_unique<spam::SpamChecker>(t.settings, classifier);
  } catch (const std::exception& e) {
    err << "mailward spam score: " << e.what() << "\n";
    return 2;
  }
  int status = 0;
  bool warned = false;
  for (const std::string& f : files) {
    std::string text, why;
    if (!read_file(f, text, why)) {
      err << "mailward spam: " << f << ": " << why << "\n";
      status = 1;
      continue;
    }
    std::string error;
    spam::SpamScore s = spam::score_message(*checker, text, user, &error);
    if (!error.empty()) {
      err << "mailward spam: " << f << ": " << error << "\n";
      status = 1;
    }
    if (!warned && !classifier->last_problem().empty()) {
      err << "mailward spam: Bayes has no opinion: " << classifier->last_problem() << "\n";
      warned = true;
    }
    out << f << '\t' << spam::format_score(s.total) << '\t'
        << (s.total >= t.required_score ? "spam" : "ham") << '\n';
  }
  out.flush();
  return status;
}

}  // namespace

std::vector<std::string> split_mbox(const std::string& text) {
  std::vector<std::string> out;
  std::string_view t = text;
  if (t.substr(0, 5) != "From ") {
    out.push_back(text);
    return out;
  }
  // Separators: a "From " line at the start or after an empty line (mboxrd/mboxo writers put an
  // empty line before each separator and escape body lines as ">From ").
  std::size_t start = 0;
  std::size_t pos = 0;
  bool prev_empty = true;
  std::vector<std::size_t> seps;
  while (pos < t.size()) {
    std::size_t eol = t.find('\n', pos);
    std::size_t end = eol == std::string_view::npos ? t.size() : eol;
    std::string_view line = t.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (prev_empty && is_mbox_separator(line)) seps.push_back(pos);
    prev_empty = line.empty();
    pos = eol == std::string_view::npos ? t.size() : eol + 1;
  }
  seps.push_back(t.size());
  for (std::size_t i = 0; i + 1 < seps.size(); ++i) {
    start = seps[i];
    std::size_t eol = t.find('\n', start);
    std::size_t body = eol == std::string_view::npos || eol >= seps[i + 1] ? seps[i + 1] : eol + 1;
    std::string msg(t.substr(body, seps[i + 1] - body));
    if (msg.find_first_not_of("\r\n") == std::string::npos) continue;  // empty entry
    out.push_back(std::move(msg));
  }
  return out;
}

int run_spam_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << kUsage;
    return 2;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    if (args[0] == "learn") return run_learn(rest, out, err);
    if (args[0] == "score") return run_score(rest, out, err);
    if (args[0] == "--help" || args[0] == "help") {
      out << kUsage;
      return 0;
    }
  } catch (const std::exception& e) {
    err << "mailward spam: " << e.what() << "\n";
    return 1;
  }
  err << "mailward spam: unknown subcommand " << args[0] << "\n" << kUsage;
  return 2;
}

}  // namespace mailward
