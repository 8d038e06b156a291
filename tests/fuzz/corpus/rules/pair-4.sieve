# 10-newsletters.sieve - mark newsletters and marketing blasts as spam.
#
# Rule files run in file-name order, so this one (10-) sees every message
# before the vendor and priority rules (20-, 30-). "spam" makes the lead
# lost and hidden: it never becomes a ticket and nobody is notified.
# The first decisive action (spam or ticket) wins; later ones are only
# reported by `leadgate rules test` as ignored.
#
# Check your edits with:  leadgate rules check
require ["vnd.leadgate", "regex"];

# A known newsletter sender, by domain (the part after the last '@').
if address :domain :is "from" ["news.example-shop.com", "mailing.example.net"] {
  spam;
  stop;     # nothing else needs to look at it
}

# Bulk mail that announces itself: a List-Unsubscribe header plus a
# marketing subject. :regex takes a PCRE2 pattern; under the default
# comparator (i;ascii-casemap) it is matched without regard to case.
# Inside a quoted string a backslash must itself be escaped: "\\b".
if allof (exists "List-Unsubscribe",
          header :regex "subject" "\\b(newsletter|webinar|special offer)\\b|\\d+ ?% off") {
  spam;
  stop;
}

#%%MESSAGE
Return-Path: <h.schmidt@example.org>
Delivered-To: support@example.test
Received: from smtp.example.org (smtp.example.org [198.51.100.22])
	by mx1.example.test (Postfix) with ESMTPS id 4Y33501D5D
	for <support@example.test>; Sat, 16 Nov 2024 10:00:00 +0100
Received: from [10.20.30.19] (unknown [203.0.113.31])
	(Authenticated sender: h.schmidt)
	by smtp.example.org (Postfix) with ESMTPSA id 33501D5D06
	for <support@example.test>; Sat, 16 Nov 2024 10:00:00 +0100
Authentication-Results: mx1.example.test;
	dkim=pass header.d=example.org header.s=mail2024 header.b="op41PpHb";
	spf=pass (mx1.example.test: domain of h.schmidt@example.org designates 198.51.100.22 as permitted sender) smtp.mailfrom=h.schmidt@example.org;
	dmarc=pass (p=quarantine dis=none) header.from=example.org
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;
	s=mail2024; t=1731747600;
	bh=7Gc+6r7PkgAh1L/0l1xpKORKqxGUwqz8aSgCHNlJtXQ=;
	h=From:To:Subject:Date:Message-ID:MIME-Version:Content-Type;
	b=KGtSJiPQxUcfVW7L8HM9gCfhKIqq213Iie1lxm7qmxdizZuj0yM/BlYe0hC9faZx
	 qTatOz7Ivu52ncRicZQM0yhT1j8e0booTrF5QL8JAZ0e3sAsEHtKtNHF5Oz36Aeh
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.4.0
From: Hannah Schmidt <h.schmidt@example.org>
To: support@example.test
Subject: Unterlagen zur Bestellung
Date: Sat, 16 Nov 2024 09:59:58 +0100
Message-ID: <7d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="------------0A1B2C3D4E5F60718293A4B5"

This is a multi-part message in MIME format.
--------------0A1B2C3D4E5F60718293A4B5
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 7bit

Anbei Angebot und Lieferschein.

--------------0A1B2C3D4E5F60718293A4B5
Content-Type: application/pdf; name*=utf-8''Angebot%20f%C3%BCr%20M%C3%BCller%20%26%20S%C3%B6hne.pdf
Content-Disposition: attachment;
 filename*=utf-8'de'Angebot%20f%C3%BCr%20M%C3%BCller%20%26%20S%C3%B6hne.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCnRyYWls
ZXIKPDwvUm9vdCAxIDAgUj4+CiUlRU9GCg==
--------------0A1B2C3D4E5F60718293A4B5
Content-Type: application/pdf;
 name="=?UTF-8?Q?Lieferschein_2024-11.pdf?="
Content-Disposition: attachment;
 filename*0*=UTF-8''Lieferschein%202024-11;
 filename*1*=%20%E2%80%93%20Zweigstelle%20K%C3%B6ln%2C%20Hall;
 filename*2*=e%203%20%28endg%C3%BCltig%29.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCnRyYWls
ZXIKPDwvUm9vdCAxIDAgUj4+CiUlRU9GCg==
--------------0A1B2C3D4E5F60718293A4B5
Content-Type: text/plain; charset=UTF-8; name="notes.txt"
Content-Disposition: attachment; filename*0="Notizen zur ";
 filename*1="Lieferung.txt"
Content-Transfer-Encoding: 7bit

Bitte an Tor 3 liefern.

--------------0A1B2C3D4E5F60718293A4B5--
