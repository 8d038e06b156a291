# tests/lmtp/storefault.sh - the store cannot take a message: the database is
# write-locked by another process -> 451 4.3.0, never 250 or 5xx, nothing
# partial; once the lock is gone the same delivery succeeds, once. A WAL
# sync that fails (injected) answers 451 and doubles nothing on retry; until
# a checkpoint succeeds no mail is taken; a delivery committed before a
# failure in the same batch is never answered without a sync. And a chain
# failure (injected) quarantines and accepts.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"

LMTPD_BUSY_MS=300 lmtpd_conf
check "database and mailboxes" lmtpd_mailboxes
check "daemon starts" lmtpd_start

session() {
	lmtp_tcp <<'EOF'
LHLO client.test
MAIL FROM:<ivan@customer.test>
RCPT TO:<support@example.test>
RCPT TO:<sales@example.test>
DATA
From: Ivan <ivan@customer.test>
Subject: locked out
Message-ID: <locked@customer.test>

Please call me back.
.
QUIT
EOF
}

# another process holds the write lock for 4 s: $lock_pid
locked() { ! sqlite3 "$T/lg.db" '.timeout 0' 'BEGIN IMMEDIATE;' 'ROLLBACK;' >/dev/null 2>&1; }
lock_db() {
	( printf 'BEGIN IMMEDIATE;\n'; sleep 4; printf 'COMMIT;\n' ) | sqlite3 "$T/lg.db" &
	lock_pid=$!
	lg_track "$lock_pid"
	for i in $(seq 1 100); do locked && break; sleep 0.02; done
}
lock_db
check "the database is write-locked by another process" locked

out=$(session)
is "$(codes <<<"$out")" "220 250 250 250 250 354 451 451 221" "write-locked store: 451 for each recipient"
like "$out" '451 4\.3\.0 <support@example\.test> ' "451 4.3.0"
unlike "$out" '^5[0-9][0-9] ' "no 5xx for a store problem"
like "$(cat "$LMTPD_LOG")" 'deferred: .*(locked|busy).* delays=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+$' \
	"the deferral is logged, with its delays"
wait "$lock_pid"
is "$(sqlq "SELECT count(*) FROM messages WHERE message_id = 'locked@customer.test'")" "0" "nothing partial was written"

out=$(session)
is "$(codes <<<"$out")" "220 250 250 250 250 354 250 250 221" "lock released: the same delivery succeeds"
is "$(leads_per_msgid | grep '^locked@')" "locked@customer.test|2" "... once per recipient"
out=$(session)
like "$out" 'Ok: duplicate' "sent again: 250, a duplicate"
is "$(leads_per_msgid | grep '^locked@')" "locked@customer.test|2" "... nothing doubled"
lmtpd_stop

# The writer commits without fsync and a second thread syncs the WAL before
# any 250. A failed sync (injected) answers 451 for what it covered; commits
# are synchronous from then on, and the retry is a duplicate, not a double.
LEADGATE_FAULT_INJECT=sync lmtpd_start
syncfail() {
	lmtp_tcp <<EOF
LHLO client.test
MAIL FROM:<kim@customer.test>
RCPT TO:<support@example.test>
DATA
From: Kim <kim@customer.test>
Subject: sync $1
Message-ID: <sync-$1@customer.test>

Is it on disk?
.
QUIT
EOF
}
out=$(syncfail 1)
is "$(codes <<<"$out")" "220 250 250 250 354 451 221" "failed WAL sync: 451, never 250"
like "$(cat "$LMTPD_LOG")" 'injected sync failure.*451.*synchronous from then on' "the failed sync is logged"
out=$(syncfail 2)
is "$(codes <<<"$out")" "220 250 250 250 354 250 221" "next delivery: 250 (synchronous commit)"
like "$(cat "$LMTPD_LOG")" 'durable again \(checkpoint done\)' "... after a checkpoint proved the database durable"
out=$(syncfail 1)
is "$(codes <<<"$out")" "220 250 250 250 354 250 221" "the retry of the 451 one: 250"
is "$(sqlq "SELECT count(*) FROM leads JOIN messages m ON m.id = leads.message_id WHERE m.message_id = 'sync-1@customer.test'")" "1" "... one lead, not two"
lmtpd_stop
like "$(cat "$LMTPD_LOG")" 'writer: 3 deliveries in 3 commits, 0 syncs ' "the writer counted its commits and syncs"

# Until a checkpoint proves the database durable after a failed sync, no mail
# is taken: a retry must not be answered 250 as a duplicate of a row that
# may not be on disk. (Injected: the sync and every checkpoint fail.)
LEADGATE_FAULT_INJECT=sync,checkpoint lmtpd_start
out=$(syncfail 3)
is "$(codes <<<"$out")" "220 250 250 250 354 451 221" "failed sync: 451"
out=$(syncfail 3)
is "$(codes <<<"$out")" "220 250 250 250 354 451 221" "its retry, the database not proven durable: 451, not a 250 duplicate"
out=$(syncfail 4)
is "$(codes <<<"$out")" "220 250 250 250 354 451 221" "... nor any other message: 451"
like "$(cat "$LMTPD_LOG")" 'not accepting mail: a sync failed .*injected checkpoint failure' \
	"the refusal is logged with the checkpoint's error"
lmtpd_stop
lmtpd_start
out=$(syncfail 4)
is "$(codes <<<"$out")" "220 250 250 250 354 250 221" "no faults: the refused message is taken"
lmtpd_stop

# A batch that fails is tried one delivery at a time; when the last of those
# fails with an I/O error (which closes the connection), the ones committed
# before it still wait for a sync: with every sync failing (injected), none
# of them may be answered 250.
LEADGATE_FAULT_INJECT=batch-split,sync lmtpd_start
syncfail 5 > "$T/split5" &
p5=$!
syncfail 6 > "$T/split6" &
p6=$!
lg_track "$p5"; lg_track "$p6"
wait "$p5" "$p6"
is "$(codes < "$T/split5") / $(codes < "$T/split6")" \
	"220 250 250 250 354 451 221 / 220 250 250 250 354 451 221" \
	"a batch retried alone, the last retry failing: both answer 451, none 250 without a sync"
like "$(cat "$LMTPD_LOG")" 'trying each alone' "... it was retried one at a time"
lmtpd_stop

# a chain failure is not a store failure: quarantine, accept
LEADGATE_FAULT_INJECT=chain lmtpd_start
out=$(lmtp_tcp <<'EOF'
LHLO client.test
MAIL FROM:<judy@customer.test>
RCPT TO:<support@example.test>
DATA
From: Judy <judy@customer.test>
Subject: chain bug
Message-ID: <chainbug@customer.test>

Boom.
.
QUIT
EOF
)
is "$(codes <<<"$out")" "220 250 250 250 354 250 221" "chain failure: accepted (250)"
like "$out" 'quarantined' "... into the quarantine"
is "$(sqlq "SELECT count(*) FROM quarantine")" "1" "the raw message is in the quarantine"
lmtpd_stop

# With a catch-all, RCPT does not read the store (leadgate-lmtpd(8)): a store
# that cannot take the message shows after DATA, as 451, and nothing partial.
LMTPD_BUSY_MS=300 LMTPD_CATCH_ALL=always lmtpd_conf
check "daemon with a catch-all starts" lmtpd_start
lock_db
check "the database is write-locked again" locked
catchall() {
	lmtp_tcp <<'EOF'
LHLO client.test
MAIL FROM:<lena@customer.test>
RCPT TO:<nobody@example.test>
DATA
From: Lena <lena@customer.test>
Subject: to the catch-all
Message-ID: <catchall@customer.test>

Anyone there?
.
QUIT
EOF
}
out=$(catchall)
is "$(codes <<<"$out")" "220 250 250 250 354 451 221" "catch-all, locked store: RCPT 250, then 451 after DATA"
wait "$lock_pid"
is "$(sqlq "SELECT count(*) FROM messages WHERE message_id = 'catchall@customer.test'")" "0" \
	"... nothing partial"
out=$(catchall)
is "$(codes <<<"$out")" "220 250 250 250 354 250 221" "lock released: the retry is stored"
is "$(leads_per_msgid | grep '^catchall@')" "catchall@customer.test|1" "... once"
lmtpd_stop

done_testing
