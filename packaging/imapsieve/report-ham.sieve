# mailward: teach the Bayes classifier that a message is ham when a user moves it out of Junk
# (to any mailbox but Trash: deleting spam says nothing about it).
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

if environment :matches "imap.mailbox" "*" {
  set "mailbox" "${1}";
}
if string "${mailbox}" "Trash" {
  stop;
}
if environment :matches "imap.user" "*" {
  set "username" "${1}";
}
pipe :copy "mailward-learn-ham" [ "${username}" ];
