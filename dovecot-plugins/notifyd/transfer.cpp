// libcurl request set-up for mailward-notifyd (see transfer.h).
#include "dovecot-plugins/notifyd/transfer.h"

#include <fstream>
#include <sstream>

#include "common/util/text.h"

namespace mailward::notifyd {

std::unique_ptr<Transfer> Transfer::create(const notify::Request& request, const notify::Target& target,
                                           bool user_url, const std::vector<net::IpAddress>& pinned,
                                           std::string& error, CURL* reuse) {
  std::unique_ptr<Transfer> t(new Transfer());
  if (reuse != nullptr) {
    curl_easy_reset(reuse);  // nothing of the previous request's options survives
    t->curl_ = reuse;
  } else {
    t->curl_ = curl_easy_init();
  }
  if (!t->curl_) {
    error = "curl_easy_init failed";
    return nullptr;
  }
  CURL* c = t->curl_;
  t->body_ = request.body;
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, user_url ? "https" : "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // never an environment proxy: it would bypass pinning
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!target.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, target.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_CAPATH, "/etc/ssl/certs");
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(target.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(target.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, t->body_.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body_.size()));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "mailward-notifyd/0.1");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->error_);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, t.get());
  t->headers_ = curl_slist_append(t->headers_, "Expect:");  // no 100-continue round trip
  for (const auto& [name, value] : request.headers) {
    std::string line = name + ": " + value;
    t->headers_ = curl_slist_append(t->headers_, line.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->headers_);
  if (!pinned.empty()) {
    notify::UrlParts parts;
    if (!notify::parse_url(request.url, parts)) {
      error = "bad URL";
      return nullptr;
    }
    std::string entry = parts.host + ":" + std::to_string(parts.port) + ":";
    for (std::size_t i = 0; i < pinned.size(); ++i) {
      if (i) entry += ",";
      entry += pinned[i].is_v6() ? "[" + pinned[i].to_string() + "]" : pinned[i].to_string();
    }
    t->resolve_ = curl_slist_append(t->resolve_, entry.c_str());
    curl_easy_setopt(c, CURLOPT_RESOLVE, t->resolve_);
  }
  return t;
}

Transfer::~Transfer() {
  if (curl_) curl_easy_cleanup(curl_);
  curl_slist_free_all(headers_);
  curl_slist_free_all(resolve_);
}

std::size_t Transfer::on_body(char* data, std::size_t size, std::size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  std::size_t bytes = size * n;
  if (t->response_.size() < 65536) t->response_.append(data, std::min(bytes, 65536 - t->response_.size()));
  return bytes;
}

std::size_t Transfer::on_header(char* data, std::size_t size, std::size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  std::size_t bytes = size * n;
  std::string_view line(data, bytes);
  if (text::istarts_with(line, "HTTP/")) t->retry_after_.clear();  // a new response (e.g. after 100)
  if (text::istarts_with(line, "retry-after:")) t->retry_after_ = std::string(text::trim(line.substr(12)));
  return bytes;
}

Response Transfer::finish(CURLcode code) {
  Response r;
  double total = 0;
  curl_easy_getinfo(curl_, CURLINFO_TOTAL_TIME, &total);
  r.seconds = total;
  if (code != CURLE_OK) {
    r.error = error_[0] ? std::string(error_) : std::string(curl_easy_strerror(code));
    return r;
  }
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
  r.body = std::move(response_);
  r.retry_after = std::move(retry_after_);
  return r;
}

Response Transfer::perform() { return finish(curl_easy_perform(curl_)); }

namespace {
bool read_secret(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path;  // the path only, never the content
    return false;
  }
  std::stringstream s;
  s << in.rdbuf();
  out = s.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (out.empty()) {
    error = path + " is empty";
    return false;
  }
  return true;
}
}  // namespace

bool load_secrets(const notify::Target& target, notify::Secrets& out, std::string& error) {
  out = {};
  if (!target.secret_file.empty() && !read_secret(target.secret_file, out.signing_key, error)) return false;
  if (!target.token_file.empty() && !read_secret(target.token_file, out.token, error)) return false;
  return true;
}

}  // namespace mailward::notifyd
