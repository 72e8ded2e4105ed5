// plan_postfix(): table of (current Postfix settings, mailward.conf) -> exact changes; list splitting;
// chroot-relative socket paths; configuration reading.
#include "tools/setup/postfix_plan.h"

#include <gtest/gtest.h>

namespace mailward::setup {
namespace {

TEST(SplitPostfixList, CommasSpacesAndGroups) {
  struct Case {
    const char* in;
    std::vector<std::string> want;
  } cases[] = {
      {"", {}},
      {"  ,, ", {}},
      {"a b,c ,  d", {"a", "b", "c", "d"}},
      {"permit_mynetworks,\n    reject_unauth_destination", {"permit_mynetworks", "reject_unauth_destination"}},
      {"{ inet:h:1, default_action=accept }, unix:x", {"{ inet:h:1, default_action=accept }", "unix:x"}},
      {"{a {b} c} d", {"{a {b} c}", "d"}},
      {"{unclosed, x", {"{unclosed, x"}},
  };
  for (const Case& c : cases) EXPECT_EQ(split_postfix_list(c.in), c.want) << c.in;
}

TEST(ChrootRelative, OnlyStrictlyBelowTheQueueDirectory) {
  struct Case {
    const char* path;
    const char* queue;
    const char* want;
  } cases[] = {
      {"/var/spool/postfix/mailward/milter.sock", "/var/spool/postfix", "unix:mailward/milter.sock"},
      {"/var/spool/postfix/mailward/milter.sock", "/var/spool/postfix/", "unix:mailward/milter.sock"},
      {"/var/spool/postfix/m.sock", "/var/spool/postfix", "unix:m.sock"},
      {"/run/mailward/milter.sock", "/var/spool/postfix", ""},
      {"/var/spool/postfixx/m.sock", "/var/spool/postfix", ""},
      {"/var/spool/postfix", "/var/spool/postfix", ""},
      {"/var/spool/postfix/", "/var/spool/postfix", ""},
      {"/var/spool/postfix/../m.sock", "/var/spool/postfix", ""},
      {"/var/spool/postfix//m.sock", "/var/spool/postfix", ""},
  };
  for (const Case& c : cases) EXPECT_EQ(chroot_relative(c.path, c.queue), c.want) << c.path;
}

PostfixWanted milter_only() {
  PostfixWanted w;
  w.milter_socket = "/var/spool/postfix/mailward/milter.sock";
  w.source = "mailward.conf";
  return w;
}

PostfixWanted with_policy() {
  PostfixWanted w = milter_only();
  w.policy_socket = "/var/spool/postfix/mailward/policy.sock";
  return w;
}

// Debian 12's Postfix after "Internet Site" (the values postconf prints; defaults included).
PostfixSettings debian() {
  PostfixSettings s;
  s.main = {{"queue_directory", "/var/spool/postfix"},
            {"smtpd_milters", ""},
            {"non_smtpd_milters", ""},
            {"milter_default_action", "tempfail"},
            {"milter_protocol", "6"},
            {"smtpd_relay_restrictions", "permit_mynetworks permit_sasl_authenticated defer_unauth_destination"},
            {"sender_dependent_relayhost_maps", ""},
            {"transport_maps", ""}};
  return s;
}

std::vector<std::string> arguments(const PostfixPlan& plan) {
  std::vector<std::string> out;
  for (const PostfixChange& c : plan.changes) out.push_back(c.postconf_argument());
  return out;
}

TEST(PlanPostfix, Table) {
  struct Case {
    const char* name;
    PostfixSettings current;
    PostfixWanted wanted;
    std::vector<std::string> want;
  };
  std::vector<Case> cases;
  cases.push_back({"stock, milter only", debian(), milter_only(),
                   {"smtpd_milters = unix:mailward/milter.sock", "non_smtpd_milters = unix:mailward/milter.sock"}});
  {
    PostfixSettings s = debian();
    s.main["smtpd_milters"] = "inet:127.0.0.1:8891, { unix:other.sock, default_action=accept }";
    s.main["non_smtpd_milters"] = "$smtpd_milters";
    s.main["milter_default_action"] = "accept";
    s.main["milter_protocol"] = "2";
    cases.push_back({"other milters kept, ours appended (non_smtpd_milters gets it through $smtpd_milters); "
                     "action and protocol fixed", s, milter_only(),
                     {"smtpd_milters = inet:127.0.0.1:8891, { unix:other.sock, default_action=accept }, "
                      "unix:mailward/milter.sock",
                      "milter_default_action = tempfail", "milter_protocol = 6"}});
  }
  {
    PostfixSettings s = debian();
    s.main["smtpd_milters"] = "unix:mailward/milter.sock";
    s.main["non_smtpd_milters"] = "unix:/var/spool/postfix/mailward/milter.sock";  // absolute form counts
    cases.push_back({"already there", s, milter_only(), {}});
  }
  cases.push_back({"policy first in relay restrictions", debian(), with_policy(),
                   {"smtpd_milters = unix:mailward/milter.sock", "non_smtpd_milters = unix:mailward/milter.sock",
                    "smtpd_relay_restrictions = check_policy_service unix:mailward/policy.sock, permit_mynetworks, "
                    "permit_sasl_authenticated, defer_unauth_destination"}});
  {
    PostfixSettings s = debian();
    s.main["smtpd_milters"] = s.main["non_smtpd_milters"] = "unix:mailward/milter.sock";
    s.main["smtpd_relay_restrictions"] =
        "permit_mynetworks,check_client_access   hash:/etc/postfix/access reject_rbl_client zen.example "
        "reject_unauth_destination";
    cases.push_back({"restrictions with arguments keep them beside them", s, with_policy(),
                     {"smtpd_relay_restrictions = check_policy_service unix:mailward/policy.sock, permit_mynetworks, "
                      "check_client_access hash:/etc/postfix/access, reject_rbl_client zen.example, "
                      "reject_unauth_destination"}});
  }
  {
    PostfixSettings s = debian();
    s.main["smtpd_milters"] = s.main["non_smtpd_milters"] = "unix:mailward/milter.sock";
    s.main["smtpd_relay_restrictions"] =
        "permit_mynetworks, check_policy_service { unix:mailward/policy.sock, default_action=DUNNO }, "
        "reject_unauth_destination";
    cases.push_back({"policy already there (grouped form)", s, with_policy(), {}});
  }
  {
    PostfixSettings s = debian();
    s.main["smtpd_milters"] = s.main["non_smtpd_milters"] = "unix:mailward/milter.sock";
    s.submission_services = {"submission/inet", "465/inet", "127.0.0.1:submission/inet"};
    s.overrides = {{"submission/inet/smtpd_relay_restrictions", "permit_sasl_authenticated,reject"},
                   {"465/inet/smtpd_relay_restrictions", "$mua_relay_restrictions"},
                   {"submission/inet/syslog_name", "postfix/submission"}};
    s.main["mua_relay_restrictions"] = "permit_sasl_authenticated, reject";
    s.main["smtpd_relay_restrictions"] = "check_policy_service unix:mailward/policy.sock, reject_unauth_destination";
    cases.push_back({"submission overrides: own list, and one through a main.cf parameter", s, with_policy(),
                     {"submission/inet/smtpd_relay_restrictions=check_policy_service,unix:mailward/policy.sock,"
                      "permit_sasl_authenticated,reject",
                      "mua_relay_restrictions = check_policy_service unix:mailward/policy.sock, "
                      "permit_sasl_authenticated, reject"}});
  }
  {
    PostfixWanted w = with_policy();
    w.socketmap_socket = "/var/spool/postfix/mailward/socketmap.sock";
    w.sender_routes = true;
    w.recipient_routes = true;
    PostfixSettings s = debian();
    s.main["smtpd_milters"] = s.main["non_smtpd_milters"] = "unix:mailward/milter.sock";
    s.main["smtpd_relay_restrictions"] = "check_policy_service unix:mailward/policy.sock";
    s.main["sender_dependent_relayhost_maps"] = "hash:/etc/postfix/relayhosts";
    cases.push_back({"routes: socketmaps appended", s, w,
                     {"sender_dependent_relayhost_maps = hash:/etc/postfix/relayhosts, "
                      "socketmap:unix:mailward/socketmap.sock:relayhost",
                      "transport_maps = socketmap:unix:mailward/socketmap.sock:transport"}});
  }
  {
    PostfixWanted w = milter_only();
    w.milter_socket = "/srv/spool/mailward/milter.sock";
    PostfixSettings s = debian();
    s.main["queue_directory"] = "/srv/spool";
    cases.push_back({"other queue directory", s, w,
                     {"smtpd_milters = unix:mailward/milter.sock", "non_smtpd_milters = unix:mailward/milter.sock"}});
  }
  for (const Case& c : cases) {
    PostfixPlan plan = plan_postfix(c.current, c.wanted);
    EXPECT_EQ(plan.error, "") << c.name;
    EXPECT_EQ(arguments(plan), c.want) << c.name;
  }
}

TEST(PlanPostfix, RefusesSocketsOutsideTheChroot) {
  PostfixWanted w = with_policy();
  w.milter_socket = "/run/mailward/milter.sock";
  PostfixPlan plan = plan_postfix(debian(), w);
  EXPECT_TRUE(plan.changes.empty());
  EXPECT_NE(plan.error.find("mailward-milter's socket /run/mailward/milter.sock ([milter] socket in mailward.conf) "
                            "is not inside Postfix's queue directory /var/spool/postfix"),
            std::string::npos)
      << plan.error;
  w = with_policy();
  w.policy_socket = "/tmp/policy.sock";
  plan = plan_postfix(debian(), w);
  EXPECT_TRUE(plan.changes.empty());
  EXPECT_NE(plan.error.find("mailward-policyd's socket /tmp/policy.sock ([policy] socket"), std::string::npos)
      << plan.error;
  w = with_policy();
  w.sender_routes = true;  // no socketmap socket
  plan = plan_postfix(debian(), w);
  EXPECT_NE(plan.error.find("no socketmap_socket"), std::string::npos) << plan.error;
}

TEST(PlanPostfix, NotesWhatItLeavesAlone) {
  PostfixSettings s = debian();
  s.submission_services = {"submission/inet"};
  PostfixPlan plan = plan_postfix(s, with_policy());
  ASSERT_EQ(plan.notes.size(), 1u);
  EXPECT_EQ(plan.notes[0], "master.cf submission/inet has no smtpd_relay_restrictions of its own: it uses main.cf's");
  plan = plan_postfix(s, milter_only());
  ASSERT_EQ(plan.notes.size(), 1u);
  EXPECT_EQ(plan.notes[0],
            "no [policy] section in mailward.conf: mailward-policyd is not hooked into smtpd_relay_restrictions");
}

TEST(WantedFromConfig, MilterAndPolicySections) {
  PostfixWanted w = wanted_from_config(config::Config::parse("", "m.conf"));
  EXPECT_EQ(w.milter_socket, "/var/spool/postfix/mailward/milter.sock");
  EXPECT_EQ(w.policy_socket, "");
  EXPECT_FALSE(w.sender_routes);
  w = wanted_from_config(config::Config::parse(
      "[milter]\nsocket = /var/spool/postfix/mw/m.sock\n"
      "[policy]\nsocket = /var/spool/postfix/mw/p.sock\nsocketmap_socket = /var/spool/postfix/mw/s.sock\n"
      "checks = relay, route\nlocal_domains = ex.org\nroute_fallback = [relay.example]:587\n",
      "m.conf"));
  EXPECT_EQ(w.milter_socket, "/var/spool/postfix/mw/m.sock");
  EXPECT_EQ(w.policy_socket, "/var/spool/postfix/mw/p.sock");
  EXPECT_EQ(w.socketmap_socket, "/var/spool/postfix/mw/s.sock");
  EXPECT_TRUE(w.sender_routes);
  EXPECT_FALSE(w.recipient_routes);
  EXPECT_THROW(wanted_from_config(config::Config::parse("[milter]\nsockte = x\n", "m.conf")), config::ConfigError);
}

}  // namespace
}  // namespace mailward::setup
