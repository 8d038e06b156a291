#!/bin/bash
# tests/integration/cli.sh - the conventions of the `leadgate` command
# (leadgate(1)): global options anywhere on the line, help at two levels,
# unknown subcommands named, --json with JSON types, read-only commands
# that never create or change a database, errors in the user's words.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"

# run CMD...: sets $out, $err and $rc
run() { out=$("$@" 2> "$T/stderr"); rc=$?; err=$(cat "$T/stderr"); }
# pyjson EXPR: evaluates EXPR with d = the JSON document of $out; prints it
pyjson() { printf '%s' "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
count() { sqlq "select count(*) from $1"; }

lg init >/dev/null
lg mailbox add support@example.test --mode existing >/dev/null
lg org add "Acme Corp" --domain acme.example >/dev/null
lg contact add anna@acme.example --name Anna --org "Acme Corp" >/dev/null
printf 'From: Anna <anna@acme.example>\nTo: support@example.test\nSubject: 42\nMessage-ID: <a1@acme.example>\n\nhello\n' > "$T/anna.eml"
printf 'From: Bob <bob@other.example>\nTo: support@example.test\nSubject: true\nMessage-ID: <b1@other.example>\n\nhi\n' > "$T/bob.eml"
lg ingest "$T/anna.eml" >/dev/null
lg ingest "$T/bob.eml" >/dev/null

# -- global options anywhere ----------------------------------------------------
run "$LEADGATE" --json -c "$T/leadgate.conf" lead list; want=$out
run "$LEADGATE" lead list --json -c "$T/leadgate.conf"
is "$rc/$out" "0/$want" "options: --json and -c after the command word"
run "$LEADGATE" -c "$T/leadgate.conf" lead list --status unread --json
is "$(pyjson 'len(d)')" 1 "options: --json between the command's own options"
run "$LEADGATE" lead list -d "$T/lg.db" --json
is "$rc/$out" "0/$want" "options: -d after the command word (no config)"
run "$LEADGATE" lead --database="$T/lg.db" list --json
is "$rc/$out" "0/$want" "options: --database=FILE between command and subcommand"
run "$LEADGATE" -d"$T/lg.db" --json lead list
is "$rc/$out" "0/$want" "options: -dFILE before the command word"
run lg org add -- -d
is "$rc/$out" "0/organization 2: -d" "options: after --, -d is an argument"
run "$LEADGATE" --bogus lead list
is "$rc" 64 "options: an unknown global option: 64"
run lg lead list --bogus
is "$rc" 64 "options: an unknown option of the command: 64"
like "$err" "lead --help" "options: ... pointing at the command's help"
run "$LEADGATE" lead list -d
is "$rc" 64 "options: -d without a file: 64"

# -- help at two levels ---------------------------------------------------------
run "$LEADGATE" --help
is "$rc" 0 "help: --help exits 0"
like "$out" "  lead +leads:" "help: --help lists the commands"
like "$out" "--database" "help: ... and the global options"
run "$LEADGATE" help; h=$out
is "$rc/$h" "0/$(lg --help)" "help: 'leadgate help' is 'leadgate --help'"
run "$LEADGATE" lead --help
is "$rc" 0 "help: lead --help exits 0"
like "$out" "leadgate lead convert ID \[--org\] \[--ticket\]" "help: lead --help lists the subcommands"
like "$out" "--status=S" "help: ... and the options"
run "$LEADGATE" help lead
like "$out" "leadgate lead show ID" "help: 'leadgate help lead' too"
run "$LEADGATE" rules test --help
is "$rc/$(head -1 <<< "$out")" "0/usage: leadgate rules test [--rules PATH] [--rcpt ADDR]... [--sender ADDR] FILE|-" "help: rules test --help"
like "$out" "--rcpt=ADDR" "help: ... lists the subcommand's own options"
run "$LEADGATE" -d "$T/none.db" lead show --help
is "$rc" 0 "help: needs no database"
check_not "help: creates none" test -e "$T/none.db"
for c in init ingest rules org contact mailbox spam lead ticket user replay config; do
  run "$LEADGATE" "$c" --help
  like "$rc/$out" "^0/usage: leadgate $c" "help: $c --help"
done

# -- unknown subcommands ----------------------------------------------------------
run lg lead lsit
is "$rc" 64 "unknown subcommand: 64"
like "$err" 'unknown lead subcommand "lsit"' "unknown subcommand: named"
like "$err" "leadgate lead list" "unknown subcommand: the valid ones listed"
run lg ticket
like "$rc/$err" "^64/.*ticket needs a subcommand" "no subcommand: 64 and the list"
run lg rules chek
like "$rc/$err" '^64/leadgate: unknown rules subcommand "chek"' "unknown rules subcommand"
run lg lead show
like "$rc/$err" "^64/usage: leadgate lead show ID" "a subcommand without its argument: its usage"

# -- --json types -------------------------------------------------------------------
run lg --json lead list
is "$(pyjson '[type(d[0]["id"]).__name__, type(d[0]["ticket_number"]).__name__, d[1]["ticket_number"], type(d[0]["subject"]).__name__]')" \
   "['int', 'int', None, 'str']" "json: lead list: id and ticket numbers are numbers, none is null, subject \"42\" a string"
run lg --json lead list --hidden
is "$(pyjson 'type(d[1]["subject"]).__name__')" "str" "json: a subject \"true\" stays a string"
run lg --json lead show 1
is "$(pyjson '[d["id"], d["hidden"], d["suspected_spoof"], d["automatic"], type(d["size"]).__name__, d["assigned_to"]]')" \
   "[1, False, False, False, 'int', None]" "json: lead show: numbers, booleans, null"
run lg --json ticket list
is "$(pyjson '[d[0]["number"], d[0]["comments"]]')" "[1001, 0]" "json: ticket list: numbers"
run lg --json ticket show 1001
is "$(pyjson '[d["ticket"]["number"], type(d["thread"]).__name__]')" "[1001, 'list']" "json: ticket show"
lg user add tech@example.test --role tech >/dev/null
run lg --json user list
is "$(pyjson 'd[0]["sync_enabled"]')" "False" "json: user list: a boolean"
lg spam add spam.example >/dev/null
for c in "mailbox list" "spam list" "user list" "init" "config defaults"; do
  [ "$c" = "config defaults" ] && continue   # a key file, not a listing
  run lg --json $c
  check "json: $c is JSON" python3 -c 'import json,sys; json.loads(sys.argv[1])' "$out"
done
run lg --json ingest "$T/anna.eml"
is "$(pyjson '[d[0]["outcome"], d[0]["lead"], d[0]["ticket"], d[0]["hidden"]]')" "['duplicate', 1, None, False]" \
   "json: ingest: numbers, null, a boolean"
run lg --json replay 1
is "$(pyjson '[d[0]["message"], d[0]["recipients"][0]["outcome"]]')" "[1, 'duplicate']" "json: replay is one JSON array"
run lg --json org add Globex
is "$(pyjson '[d["id"], d["name"]]')" "[3, 'Globex']" "json: org add"
run lg --json lead convert 2 --ticket
is "$(pyjson '[d["id"], d["ticket_number"]]')" "[2, 1002]" "json: lead convert"
run lg --json lead set 2 likelihood 40
is "$(pyjson '[d["id"], d["field"], d["value"]]')" "[2, 'likelihood', '40']" "json: lead set"
run lg lead spam 2 --json
is "$(pyjson '[d["id"], d["hidden"]]')" "[2, True]" "json: lead spam"
run lg lead unspam 2 --json
is "$(pyjson 'd["hidden"]')" "False" "json: lead unspam"
run lg --json mailbox add sales@example.test --mode never
is "$(pyjson '[d["address"], d["mode"]]')" "['sales@example.test', 'never']" "json: mailbox add"
run lg --json config check
is "$(pyjson 'd["ok"]')" "True" "json: config check"

# -- rules check ---------------------------------------------------------------------
mkdir -p "$T/r"
printf 'require "vnd.leadgate";\nif header :contains "subject" "x" { spam; }\n' > "$T/r/10-a.sieve"
printf 'keep;\n' > "$T/r/20-b.sieve"
run lg rules check "$T/r"
is "$rc/$out" "0/$T/r: 2 rule files, 2 rules: ok" "rules check: says what it checked"
run lg --json rules check "$T/r"
is "$(pyjson '[d["ok"], len(d["files"]), d["rules"], d["diagnostics"]]')" "[True, 2, 2, []]" "rules check --json: the files and no diagnostics"
printf 'if foo { keep; }\n' > "$T/r/30-bad.sieve"
run lg rules check "$T/r" --json
is "$rc" 1 "rules check --json: 1 on an error"
is "$(pyjson '[d["ok"], d["diagnostics"][0]["line"], d["diagnostics"][0]["column"], d["diagnostics"][0]["severity"], d["diagnostics"][0]["file"].endswith("30-bad.sieve")]')" \
   "[False, 1, 4, 'error', True]" "rules check --json: each diagnostic as an object"
run lg rules check "$T/nowhere"
like "$rc/$err" "^66/.*nowhere" "rules check: a missing directory is an error (66)"
run lg rules check "$T/r/nothere.sieve"
is "$rc" 66 "rules check: a missing file is an error (66)"

# -- read-only commands never create or change a database -----------------------------
for c in "lead list" "lead show 1" "ticket list" "ticket show 1001" "mailbox list" "spam list" "user list" \
         "rules test --rules $T/rules $T/anna.eml"; do
  run "$LEADGATE" -d "$T/missing.db" $c
  is "$rc" 66 "no database: $c: 66"
  like "$err" "$T/missing.db.*leadgate init" "no database: $c: names the path and leadgate init"
done
for c in "org add X" "contact add x@x.example" "mailbox add a@x.example --mode never" "lead convert 1 --ticket" "replay 1"; do
  run "$LEADGATE" -d "$T/missing.db" $c
  like "$rc/$err" "^66/.*leadgate init" "no database: $c: an error, not a new database"
done
run "$LEADGATE" -d "$T/missing.db" ingest --rcpt support@example.test "$T/anna.eml"
is "$rc" 75 "no database: ingest: 75, so that Postfix keeps the mail"
check_not "no database: none was created" test -e "$T/missing.db"
run "$LEADGATE" -d "$T/missing.db" init
is "$rc" 0 "init creates it"
sqlite3 "$T/lg.db" 'pragma wal_checkpoint(truncate)' >/dev/null
sum0=$(md5sum < "$T/lg.db")
printf 'From: Carol <carol@new.example>\nTo: support@example.test\nSubject: new\nMessage-ID: <c1@new.example>\n\nnew\n' > "$T/carol.eml"
run lg rules test "$T/carol.eml"
like "$rc/$out" "^0/dry run" "rules test: a dry run of a new message"
run lg lead list
is "$(md5sum < "$T/lg.db")/$(count leads)" "$sum0/2" "rules test and lead list: the database is unchanged"
run lg rules test "$T/carol.eml"
like "$out" "would be recorded" "rules test: the same message again is not a duplicate (nothing was kept)"

# -- errors in the user's words ---------------------------------------------------------
t0=$(count tickets)
run lg org add "ACME corp"
is "$rc/$err" '1/leadgate: organization "Acme Corp" already exists (id 1)' "org add of an existing name"
run lg org add Initech --domain ACME.example
is "$rc/$err" '1/leadgate: domain acme.example already belongs to organization "Acme Corp" (id 1)' "org add of a taken domain"
is "$(count organizations)" 3 "... nothing added"
run lg contact add Anna@ACME.example
is "$rc/$err" "1/leadgate: end user anna@acme.example already exists (id 1)" "contact add of an existing address"
run lg lead convert 1 --ticket
is "$rc/$err" "1/leadgate: lead 1 already has ticket #1001; nothing was changed" "lead convert of a lead with a ticket says so"
is "$(count tickets)" "$t0" "... and makes no ticket"
before=$(sqlq "select updated_at from leads where id = 1")
run lg lead convert 1 --org --ticket
is "$rc/$(sqlq "select updated_at from leads where id = 1")" "1/$before" "... nor changes the lead with --org --ticket"
run lg replay --quarantine 7
is "$rc/$err" "1/leadgate: no quarantine entry 7" "replay --quarantine of a missing entry"
run lg lead set 1 status bogus
is "$rc" 64 "lead set status: a bad value is a usage error"
unlike "$err" "constraint" "... in words, not SQLite's"
# no SQLite message without the sentence that explains it: a raw refusal
# of the store (a CHECK) reaches the user behind one
sqlite3 "$T/lg.db" "create trigger no_orgs before insert on organizations begin select raise(abort, 'no more organizations'); end;"
run lg org add Umbrella
like "$rc/$err" "^1/leadgate: the database refused .*nothing was changed: no more organizations" "a raw SQLite error comes with the sentence that explains it"
done_testing
