#!/bin/bash
# tests/bench/gen-messages.sh - writes the bench's message sets into DIR.
#
#   gen-messages.sh DIR
#
# DIR/msg-4k.eml   about 4.5 KB: multipart/mixed { multipart/alternative
#                  { text/plain, text/html }, a small PDF attachment }, with
#                  the headers a message has when it reaches the last hop
#                  (Received, DKIM-Signature, Authentication-Results, an
#                  RFC 2047 From and Subject).
# DIR/msg-50k.eml  the same shape, about 50 KB (longer text, bigger attachment).
# DIR/msg-50m.eml  the same shape, about 50 MB: one 37 MB attachment, the
#                  largest that keeps the message under lmtpd's default
#                  max_message_size of 50 MiB once base64-encoded.
#
# The Message-ID carries the token LGBENCH-000000000000, which
# tests/bench/lmtp-latency replaces with a number of its own per message
# (smtp-source sends the file as it is). Lines end in LF; both clients send
# CRLF. Attachment bytes come from /dev/urandom: only their size matters.
set -eu
dir=${1:?usage: gen-messages.sh DIR}
mkdir -p "$dir"

OUTER=000000000000a1b2c3d4e5f60708
INNER=000000000000a1b2c3d4e5f60707

# gen_headers SUBJECT
gen_headers() {
	cat <<EOF
Received: from mail-ej1-f53.example.net (mail-ej1-f53.example.net [192.0.2.53])
	by mx1.example.test (Postfix) with ESMTPS id 4Qx7Lk2n5Vz9sWk
	for <user@example.test>; Tue, 24 Nov 2026 09:12:31 +0000 (UTC)
Received: by mail-ej1-f53.example.net with SMTP id a640c23a62f3a-9a1b2c3d4e5f.20
        for <user@example.test>; Tue, 24 Nov 2026 01:12:30 -0800 (PST)
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;
        d=example.net; s=20230601; t=1795511550; x=1796116350;
        h=to:subject:message-id:date:from:mime-version:from:to:cc:subject
         :date:message-id:reply-to;
        bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
        b=Yk3nR0pG2mVbQe1xw9pQ7L1dA4Hf0uYcZ8s2KjT6vN5oB3rWqE1aX9mD7hC4lF2iS
         0tU8yV6zJ5gK3bN1cM7dP9eR2fQ4hW6jX8kY0lZ1mA3nB5oC7pD9qE1rF3sG5tH7u
         I9vJ1wK3xL5yM7zN9aO1bP3cQ5dR7eS9fT1gU3hV5iW7jX9kY1lZ3mA5nB7oC9pD1
         qE3rF5sG7tH9uI1vJ3wK5xL7yM9zN1aO3bP5cQ7dR9eS1fT3gU5hV7iW9jX1kY3lZ5
         mA7nB9oC1pD3qE5rF7sG9tH1uI3vJ5wK7xL9yM1zN3aO5bP7cQ9dR1eS3fT5gU7hV9
         iW1jX3kY5lZ7mA9nB1oC3pD5qE7rF9sG1tH3uI5vJ7wK9xL1yM3zN5aO7bP9cQ1dA==
Authentication-Results: mx1.example.test; dkim=pass (2048-bit key;
	unprotected) header.d=example.net header.i=@example.net
	header.a=rsa-sha256 header.s=20230601 header.b=Yk3nR0pG;
	spf=pass (mx1.example.test: domain of jose.garcia@example.net designates
	192.0.2.53 as permitted sender) smtp.mailfrom=jose.garcia@example.net;
	dmarc=pass (p=none dis=none) header.from=example.net
X-Received: by 2002:a17:907:7d8c:b0:9a1:b2c3:d4e5 with SMTP id
        oz12-20020a1709077d8c00b009a1b2c3d4e5mr1234567ejc.20.1795511550123;
        Tue, 24 Nov 2026 01:12:30 -0800 (PST)
MIME-Version: 1.0
From: =?UTF-8?Q?Jos=C3=A9_Garc=C3=ADa?= <jose.garcia@example.net>
Date: Tue, 24 Nov 2026 10:12:19 +0100
Message-ID: <CAF8q9LGBENCH-000000000000+xYz@mail.example.net>
Subject: $1
To: Support <user@example.test>
Content-Type: multipart/mixed; boundary="$OUTER"

EOF
}

# gen_text REPEAT: the text/plain part's body (quoted-printable)
gen_text() {
	echo "Guten Tag,"
	echo
	for _ in $(seq "$1"); do
		cat <<'EOF'
wir planen die Einf=C3=BChrung Ihrer Software in drei Niederlassungen und b=
r=C3=A4uchten ein Angebot f=C3=BCr 200 Lizenzen mit Wartung =C3=BCber drei =
Jahre. Bitte ber=C3=BCcksichtigen Sie auch die Schulung vor Ort (zwei Tage)=
 und die Anbindung an unser bestehendes Ticketsystem.
EOF
		echo
	done
	cat <<'EOF'
Die Anforderungen finden Sie im Anhang. F=C3=BCr R=C3=BCckfragen erreichen =
Sie mich unter +49 30 1234567.

Mit freundlichen Gr=C3=BC=C3=9Fen
Jos=C3=A9 Garc=C3=ADa
Einkauf, Beispiel GmbH
EOF
}

# gen_html REPEAT: the text/html part's body (quoted-printable)
gen_html() {
	cat <<'EOF'
<div dir=3D"ltr"><div>Guten Tag,</div><div><br></div>
EOF
	for _ in $(seq "$1"); do
		cat <<'EOF'
<div>wir planen die Einf=C3=BChrung Ihrer Software in drei Niederlassungen u=
nd br=C3=A4uchten ein Angebot f=C3=BCr <b>200 Lizenzen</b> mit Wartung =C3=
=BCber drei Jahre. Bitte ber=C3=BCcksichtigen Sie auch die Schulung vor Ort =
(zwei Tage) und die Anbindung an unser bestehendes Ticketsystem.</div><div><=
br></div>
EOF
	done
	cat <<'EOF'
<div>Die Anforderungen finden Sie im Anhang. F=C3=BCr R=C3=BCckfragen erreich=
en Sie mich unter <a href=3D"tel:+49301234567">+49 30 1234567</a>.</div><div>=
<br></div><div>Mit freundlichen Gr=C3=BC=C3=9Fen<br>Jos=C3=A9 Garc=C3=ADa<br>=
Einkauf, Beispiel GmbH</div></div>
EOF
}

# gen_message REPEAT ATTACHMENT_BYTES
gen_message() {
	gen_headers "=?UTF-8?Q?Angebot_f=C3=BCr_200_Lizenzen_=E2=80=93_Anfrage_Beispiel_GmbH?="
	cat <<EOF
--$OUTER
Content-Type: multipart/alternative; boundary="$INNER"

--$INNER
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

EOF
	gen_text "$1"
	cat <<EOF

--$INNER
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

EOF
	gen_html "$1"
	cat <<EOF

--$INNER--

--$OUTER
Content-Type: application/pdf; name="Anforderungen-Lizenzen.pdf"
Content-Disposition: attachment; filename="Anforderungen-Lizenzen.pdf"
Content-Transfer-Encoding: base64
Content-ID: <f_lk3j2h1g0>
X-Attachment-Id: f_lk3j2h1g0

EOF
	head -c "$2" /dev/urandom | base64 -w 76
	echo "--$OUTER--"
}

# gen_sized FILE REPEAT TARGET_BYTES: sizes the attachment so FILE is about TARGET.
gen_sized() {
	local file=$1 repeat=$2 target=$3 att=1000 size
	for _ in 1 2 3; do
		gen_message "$repeat" "$att" > "$file"
		size=$(stat -c %s "$file")
		att=$(( att + (target - size) * 57 / 78 ))
		[ "$att" -ge 100 ] || att=100
	done
}

gen_sized "$dir/msg-4k.eml" 1 4600
gen_sized "$dir/msg-50k.eml" 6 51200
gen_message 1 37000000 > "$dir/msg-50m.eml"
