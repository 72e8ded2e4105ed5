# milter_killed — mailward-milter dies (kill -9) in the middle of an SMTP session, between RCPT and
# DATA: Postfix applies milter_default_action = tempfail, so the client gets 4xx, not acceptance
# unchecked and not 5xx. Then a real sending MTA (the second Postfix, relay.outside.example) sends
# while the milter is down, is deferred with 4xx, retries on its own, and once the milter is back the
# message is delivered and checked: nothing lost.
trap '[ -S "$MW_MILTER_SOCKET" ] && [ -f "$MW_STATE/milter.run.pid" ] || mw_milter_start >/dev/null 2>&1 || true' EXIT

# Part 1: a session held open by a script; the milter is killed after RCPT.
m1="$(marker direct)"
mw_message "$MW_WORK/d.eml" "Sender <sender@aligned.example>" "$MW_RCPT" "milter killed mid-session" "$m1"
pid="$(cat "$MW_STATE/milter.run.pid")"
ns "$MW_PYTHON" - "$MW_IP_MX" "$MW_IP_GOOD" "$MW_RCPT" "$MW_WORK/d.eml" "$pid" >"$MW_WORK/d.out" 2>&1 <<'PY' || fail "mid-session client failed: $(cat "$MW_WORK/d.out")"
import os, signal, smtplib, sys, time
mx, src, rcpt, path, pid = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
s = smtplib.SMTP(mx, 25, local_hostname="mail.aligned.example", source_address=(src, 0), timeout=120)
s.ehlo()
print("MAIL", s.mail("sender@aligned.example"))
print("RCPT", s.rcpt(rcpt))
os.kill(pid, signal.SIGKILL)
print("killed milter pid", pid)
time.sleep(0.5)
code, msg = s.docmd("DATA")
if code == 354:
    s.send(open(path, "rb").read().replace(b"\r\n.", b"\r\n..") + b".\r\n")
    code, msg = s.getreply()
print("FINAL", code, msg.decode(errors="replace"))
try:
    s.quit()
except Exception:
    pass
PY
rm -f "$MW_STATE/milter.run.pid"
cat "$MW_WORK/d.out" | sed 's/^/    /'
final="$(grep '^FINAL' "$MW_WORK/d.out" | sed 's/^FINAL //')"
[[ "$final" =~ ^4[0-9][0-9]\  ]] || fail "after kill -9 of the milter, expected a 4xx, got: '$final'"
echo "  killed mid-session: $final"
if mw_wait_delivery "$m1" 2 >/dev/null; then fail "the message was accepted while the milter was dead"; fi

# Part 2: the outside MTA sends while the milter is down, and retries.
m2="$(marker relayed)"
mw_message "$MW_WORK/r.eml" "Sender <sender@aligned.example>" "$MW_RCPT" "retried by the sending MTA" "$m2"
mw_dkim_sign "$MW_WORK/r.eml" "$MW_WORK/r.signed" aligned.example
ns swaks --server "$MW_IP_OUT" --local-interface "$MW_IP_OUT_CLIENT" --helo client.outside.example \
  --from sender@aligned.example --to "$MW_RCPT" --data "@$MW_WORK/r.signed" --timeout 60 >"$MW_WORK/r.out" 2>&1 || true
qid="$(mw_queue_id "$MW_WORK/r.out")"
[ -n "$qid" ] || fail "the outside MTA did not queue the message: $(mw_smtp_last "$MW_WORK/r.out")"
deferred=""
for _ in $(seq 1 150); do
  deferred="$(mw_fate "$qid" out | grep 'status=deferred' | head -1 || true)"
  [ -n "$deferred" ] && break
  sleep 0.2
done
[ -n "$deferred" ] || fail "the outside MTA's attempt was not deferred while the milter was down: $(mw_fate "$qid" out)"
[[ "$deferred" =~ said:\ 4[0-9][0-9] ]] || fail "deferral was not a 4xx from the MX: $deferred"
echo "  outside MTA deferred: ${deferred#*status=}"
mw_fate "$qid" out | grep -q 'status=bounced' && fail "the outside MTA bounced the message"
mw_milter_start
f="$(mw_wait_delivery "$m2" 60)" || fail "after the milter came back the retried message did not arrive within 60 s: $(mw_fate "$qid" out | tail -2)"
mw_fate "$qid" out | grep -q 'status=sent' || fail "outside MTA log has no status=sent for $qid"
ar="$(ar_ours "$f")"
echo "  delivered after retry; Authentication-Results: $ar"
[[ "$ar" =~ dmarc=pass ]] || fail "the retried message was delivered without being checked (dmarc=pass expected): '$ar'"
