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
Return-Path: <noreply@shop.example.com>
Delivered-To: support@example.test
Received: from web01.shop.example.com (web01.shop.example.com [198.51.100.67])
	by mx1.example.test (Postfix) with ESMTPS id 4Y33FBF374
	for <support@example.test>; Thu, 21 Nov 2024 15:20:00 +0100
Authentication-Results: mx1.example.test;
	dkim=pass header.d=shop.example.com header.s=mail2024 header.b="mpIlWUuF";
	spf=pass (mx1.example.test: domain of noreply@shop.example.com designates 198.51.100.67 as permitted sender) smtp.mailfrom=noreply@shop.example.com;
	dmarc=pass (p=quarantine dis=none) header.from=shop.example.com
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=shop.example.com;
	s=mail2024; t=1732198800;
	bh=z4EdwF93pyoiJ1DTJqtdqBYForKUyWltaeOeiyETGiY=;
	h=From:To:Subject:Date:Message-ID:MIME-Version:Content-Type;
	b=DRw8i6P/MF2K83LiCqW9hMUouKlROrFjgt2J61g1Fz6Xi0pRU2c+d5jirSykMFA1
	 /HkM/9Um/KTQkElDuEEq3qVyXmwIMMCIprnBX0jlh0narezuMHNRbXNyqWcRxwhX
X-Mailer: PHPMailer 6.8.0
From: Example Shop Contact Form <noreply@shop.example.com>
Reply-To: Tomasz Nowak <tomasz.nowak@example.org>
To: support@example.test
Subject: New contact form submission: Request a quote
Date: Thu, 21 Nov 2024 15:19:59 +0100
Message-ID: <Xq1w2e3r4t5y6u7i8o9p@shop.example.com>
X-Form-Id: contact-quote
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Name: Tomasz Nowak
Email: tomasz.nowak@example.org
Company: Nowak Logistics
Phone: +48 555 010 101
Message:
We need 12 barcode scanners with a 3-year warranty. Please call me.

--
This e-mail was sent from a contact form on Example Shop (https://shop.example.com)
