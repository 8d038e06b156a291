#!/bin/bash
# tests/lmtp/bigmsg.sh - leadgate-lmtpd streams a 40 MB message: spooled
# past the memory limit, parsed from the spool, written to the store in
# chunks. Its peak memory stays within idle + 32 MiB.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/lmtp/lmtp-lib.sh"
command -v swaks >/dev/null || { [ -n "${CI:-}" ] && { echo "not ok 1 - swaks is missing"; echo "1..1"; exit 1; }; skip_all "swaks not installed"; }
lmtpd_conf
lmtpd_mailboxes
python3 - "$T" <<'PY'
import base64, sys
t = sys.argv[1]
with open(t + "/big.eml", "w") as f:
    f.write("From: Big <big@big.example>\nTo: support@example.test\nSubject: big over LMTP\n"
            "Message-ID: <lmtp-big1@big.example>\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
            "see attachment\n--b\nContent-Type: application/octet-stream\n"
            "Content-Disposition: attachment; filename=big.bin\nContent-Transfer-Encoding: base64\n\n")
    block = base64.encodebytes(bytes(range(256)) * 3072)
    for i in range(40):
        f.write(block.decode())
    f.write("--b--\n")
PY
lmtpd_start || { echo "not ok 1 - daemon did not start"; echo 1..1; exit 1; }
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$LMTPD_PID/status"; }
# one small delivery first, so that idle includes the warmed-up writer
printf 'From: s@small.example\nTo: support@example.test\nSubject: warm up\n\nhi\n' > "$T/small.eml"
swaks --protocol LMTP --server "127.0.0.1:$LMTPD_PORT" --from s@small.example --to support@example.test --data @"$T/small.eml" >/dev/null 2>&1
idle=$(kb VmRSS)
out=$(swaks --suppress-data --protocol LMTP --server "127.0.0.1:$LMTPD_PORT" --from big@big.example --to support@example.test --data @"$T/big.eml" 2>&1 | tail -4)
like "$out" "<- +250 2\.0\.0" "a 40 MB message is accepted (250)"
peak=$(kb VmHWM)
is "$(sqlq "select count(*) from leads l join messages m on m.id=l.message_id where m.message_id='lmtp-big1@big.example'")" 1 "  ... and recorded"
is "$(sqlq "select filename||' '||size from attachments order by id desc limit 1")" "big.bin 31457280" "  ... with its attachment's decoded size"
diag "leadgate-lmtpd RSS: idle ${idle} KiB, peak ${peak} KiB"
if [ -n "${LG_SANITIZERS:-}" ]; then
  skip "peak memory is not measured under the sanitizers"
else
  check "peak RSS within idle + 32 MiB (${idle} -> ${peak} KiB)" test "$peak" -le $((idle + 32768))
fi
lmtpd_stop
done_testing
