// StoreModel: the classifier's counts in a store::Store (embedded LMDB file or Redis), one packed
// counter per (user, token) so that learning a message is one batched `add` and classifying it one
// batched `get`. Key layout and packing are described in bayes.h; so are batches (many messages
// learned in one store transaction).
#include <algorithm>
#include <array>

#include "common/store/store.h"
#include "milters/spam/bayes/bayes.h"

namespace mailward::spam::bayes {

namespace {

constexpr std::int64_t kSpamUnit = std::int64_t{1} << 32;

std::string_view model_user(std::string_view user) {
  return user.empty() ? kGlobalUser : user;
}

void append_hex(std::string& out, std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::array<char, 16> buf{};
  for (int i = 15; i >= 0; --i) {
    buf[static_cast<std::size_t>(i)] = digits[v & 0xf];
    v >>= 4;
  }
  out.append(buf.data(), buf.size());
}

std::string prefix(std::string_view user) {
  std::string k = "bayes:";
  k += model_user(user);
  k += ':';
  return k;
}

Counts unpack(std::int64_t v) {
  // A negative value can only come from forgetting what was not learned through this model (or a
  // foreign writer): read it as zero rather than as a huge count.
  if (v <= 0) return {};
  auto u = static_cast<std::uint64_t>(v);
  return Counts{u >> 32, u & 0xffffffffu};
}

ModelStatus from_store(store::Status s, const std::string& detail) {
  ModelStatus m;
  m.status = s == store::Status::ok            ? Status::ok
             : s == store::Status::unavailable ? Status::unavailable
                                               : Status::error;
  m.detail = detail;
  return m;
}

}  // namespace

std::string StoreModel::token_key(std::string_view user, Token token) {
  std::string k = prefix(user);
  append_hex(k, token);
  return k;
}

store::Result<std::vector<std::int64_t>> StoreModel::read(std::span<const std::string> keys) {
  auto r = store_.get(keys);
  if (!r.ok() || pending_.empty()) return r;
  for (std::size_t i = 0; i < keys.size() && i < r.value.size(); ++i) {
    auto it = pending_.find(keys[i]);
    if (it != pending_.end()) r.value[i] += it->second;
  }
  return r;
}

store::Result<std::vector<std::int64_t>> StoreModel::write(
    std::span<const store::CounterUpdate> updates) {
  if (!batching_) return store_.add(updates);
  for (const store::CounterUpdate& u : updates) pending_[u.key] += u.delta;
  return {};
}

ModelStatus StoreModel::commit() {
  batching_ = false;
  if (pending_.empty()) return {};
  std::vector<store::CounterUpdate> updates;
  updates.reserve(pending_.size());
  for (auto& [key, delta] : pending_) {
    if (delta == 0) continue;  // learned and forgotten within the batch
    store::CounterUpdate u;
    u.key = key;
    u.delta = delta;
    updates.push_back(std::move(u));
  }
  pending_.clear();
  if (updates.empty()) return {};
  // Sorted keys: LMDB inserts in key order touch each page once.
  std::sort(updates.begin(), updates.end(),
            [](const store::CounterUpdate& a, const store::CounterUpdate& b) { return a.key < b.key; });
  auto r = store_.add(updates);
  if (!r.ok()) return from_store(r.status, r.detail);
  return {};
}

std::string StoreModel::describe() const {
  return store_.describe();
}

ModelStatus StoreModel::totals(std::string_view user, Counts& out) {
  std::string key = prefix(user) + "!totals";
  auto r = read(std::span<const std::string>(&key, 1));
  if (!r.ok()) return from_store(r.status, r.detail);
  out = r.value.empty() ? Counts{} : unpack(r.value[0]);
  return {};
}

ModelStatus StoreModel::lookup(std::string_view user, std::span<const Token> tokens,
                               std::span<Counts> out) {
  std::vector<std::string> keys;
  keys.reserve(tokens.size());
  std::string p = prefix(user);
  for (Token t : tokens) {
    std::string k = p;
    append_hex(k, t);
    keys.push_back(std::move(k));
  }
  auto r = read(keys);
  if (!r.ok()) return from_store(r.status, r.detail);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = i < r.value.size() ? unpack(r.value[i]) : Counts{};
  }
  return {};
}

ModelStatus StoreModel::update(std::string_view user, std::span<const Token> tokens, Label label,
                               int delta) {
  std::int64_t unit = label == Label::spam ? kSpamUnit : 1;
  std::vector<store::CounterUpdate> updates;
  updates.reserve(tokens.size() + 1);
  std::string p = prefix(user);
  for (Token t : tokens) {
    store::CounterUpdate u;
    u.key = p;
    append_hex(u.key, t);
    u.delta = unit * delta;
    updates.push_back(std::move(u));
  }
  store::CounterUpdate total;
  total.key = p + "!totals";
  total.delta = unit * delta;
  updates.push_back(std::move(total));
  auto r = write(updates);
  if (!r.ok()) return from_store(r.status, r.detail);
  return {};
}

ModelStatus StoreModel::get_learned(std::string_view user, std::uint64_t digest, Learned& out) {
  std::string key = prefix(user) + "!msg:";
  append_hex(key, digest);
  auto r = read(std::span<const std::string>(&key, 1));
  if (!r.ok()) return from_store(r.status, r.detail);
  std::int64_t v = r.value.empty() ? 0 : r.value[0];
  out = v == 1 ? Learned::spam : v == 2 ? Learned::ham : Learned::none;
  return {};
}

ModelStatus StoreModel::set_learned(std::string_view user, std::uint64_t digest, Learned value) {
  std::string key = prefix(user) + "!msg:";
  append_hex(key, digest);
  if (value == Learned::none && !batching_) {
    auto r = store_.erase(std::span<const std::string>(&key, 1));
    if (!r.ok()) return from_store(r.status, r.detail);
    return {};
  }
  // Counters only add: read, then add the difference (the ledger is advisory; a race between two
  // learners of the same message at worst counts it twice). In a batch, "none" is a delta back to
  // 0, which reads as none.
  auto g = read(std::span<const std::string>(&key, 1));
  if (!g.ok()) return from_store(g.status, g.detail);
  std::int64_t old = g.value.empty() ? 0 : g.value[0];
  store::CounterUpdate u;
  u.key = key;
  u.delta = static_cast<std::int64_t>(value) - old;
  auto r = write(std::span<const store::CounterUpdate>(&u, 1));
  if (!r.ok()) return from_store(r.status, r.detail);
  return {};
}

}  // namespace mailward::spam::bayes
