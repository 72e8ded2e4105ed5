# mailward: teach the Bayes classifier that a message is spam when a user moves or copies it into
# Junk (Dovecot imapsieve, RFC 6785 environment items). The message is piped to
# mailward-learn-spam with the IMAP user name; the user's move is never blocked by a failure here.
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

if environment :matches "imap.user" "*" {
  set "username" "${1}";
}
pipe :copy "mailward-learn-spam" [ "${username}" ];
