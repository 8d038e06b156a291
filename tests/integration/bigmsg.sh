#!/bin/bash
# tests/integration/bigmsg.sh - a 40 MB message is streamed: the raw bytes
# go to the store through blob I/O, attachments are hashed in chunks, so the
# peak memory of `leadgate ingest` stays near that of a small message.
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
lg init >/dev/null
python3 - "$T" <<'PY'
import base64, os, sys
t = sys.argv[1]
with open(t + "/big.eml", "w") as f:
    f.write("From: Big <big@big.example>\nTo: support@example.test\nSubject: big\n"
            "Message-ID: <big1@big.example>\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
            "see attachment\n--b\nContent-Type: application/octet-stream\n"
            "Content-Disposition: attachment; filename=big.bin\nContent-Transfer-Encoding: base64\n\n")
    block = base64.encodebytes(bytes(range(256)) * 3072)   # 768 KiB per block
    for i in range(40):                                      # 30 MiB decoded, 40 MiB encoded
        f.write(block.decode())
    f.write("--b--\n")
with open(t + "/small.eml", "w") as f:
    f.write("From: s@small.example\nTo: support@example.test\nSubject: small\n\nhi\n")
PY
# peak RSS (KiB) of one command, measured by the kernel for the child
peak() { python3 -c 'import resource,subprocess,sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"; }
small=$(peak "$LEADGATE" -c "$T/leadgate.conf" ingest --rcpt support@example.test "$T/small.eml")
big=$(peak "$LEADGATE" -c "$T/leadgate.conf" ingest --rcpt support@example.test "$T/big.eml")
is "$?" 0 "a 40 MB message is recorded"
is "$(sqlq "select r.size from raw_messages r join messages m on m.sha256=r.sha256 where m.message_id='big1@big.example'")" \
   "$(stat -c %s "$T/big.eml")" "the raw message is stored whole"
is "$(sqlq "select length(r.data) = r.size from raw_messages r join messages m on m.sha256=r.sha256 where m.message_id='big1@big.example'")" 1 "  ... every byte of it"
is "$(sqlq "select filename||' '||size from attachments order by id desc limit 1")" "big.bin 31457280" "the attachment is listed with its decoded size"
diag "peak RSS: small message ${small} KiB, 40 MB message ${big} KiB"
if [ -n "${LG_SANITIZERS:-}" ]; then
  skip "peak memory is not measured under the sanitizers (their quarantine holds freed memory)"
else
  check "peak memory for 40 MB stays within small + 16 MiB (${small} -> ${big} KiB)" test "$big" -le $((small + 16384))
fi
done_testing
