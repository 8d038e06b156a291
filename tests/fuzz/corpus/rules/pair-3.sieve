# 40-webform.sieve - set the lead source of mail sent by the web site's
# contact form.
#
# "lead" changes the lead's fields (:source, :stage, :assign) and decides
# nothing: the chain goes on to the mailbox mode. A later lead action
# overrides a field an earlier one set.
require ["vnd.leadgate", "envelope", "body"];

# The form sends from its own address, with the visitor in Reply-To
# (leadgate then treats Reply-To as the sender for matching).
if anyof (address :is "from" "no-reply@www.example.com",
          envelope :is "from" "forms@www.example.com",
          header :is "X-Mailer" "ExampleForms") {
  lead :source "Web form" :stage "new";

  # Quote requests go straight to sales.
  if body :text :contains ["request a quote", "pricing"] {
    lead :assign "sales@example.com";
  }
}

#%%MESSAGE
Return-Path: <marketing@example.org>
Delivered-To: support@example.test
Received: from out.example.org (out.example.org [198.51.100.25])
	by mx1.example.test (Postfix) with ESMTPS id 4Y74756749
	for <support@example.test>; Mon, 18 Nov 2024 09:00:00 +0100
Received: from [10.20.30.19] (unknown [203.0.113.31])
	(Authenticated sender: marketing)
	by out.example.org (Postfix) with ESMTPSA id 7475674945
	for <support@example.test>; Mon, 18 Nov 2024 09:00:00 +0100
Authentication-Results: mx1.example.test;
	dkim=pass header.d=example.org header.s=mail2024 header.b="MR7OW7mt";
	spf=pass (mx1.example.test: domain of marketing@example.org designates 198.51.100.25 as permitted sender) smtp.mailfrom=marketing@example.org;
	dmarc=pass (p=quarantine dis=none) header.from=example.org
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;
	s=mail2024; t=1731916800;
	bh=S3d1IWH8yGkxi8ra+koFa1sw+CX4Sqy1Duhq/q7c8eI=;
	h=From:To:Subject:Date:Message-ID:MIME-Version:Content-Type;
	b=c1NMGgnOVzx955SEXB0yHYGKc3X6N86ndAFqMowqBJuZm598s/WbBKBqsQpL8vLy
	 uhgrtwwbhtDWv9uqLO2XapDE6S64Ol6HsSgDgjBdH/Zjs5sd7eY9lcHu6CdE5aOh
X-Mailer: Microsoft Outlook 16.0
From: Elena Rossi <Elena.Rossi@example.org>
To: support@example.test
Subject: Screenshot of the error in the dashboard
Date: Mon, 18 Nov 2024 08:59:58 +0100
Message-ID: <000001db3990$0a0b0c0d$1e1f2021$@example.org>
MIME-Version: 1.0
Content-Type: multipart/related;
	type="multipart/alternative";
	boundary="----=_NextPart_000_0001_01DB3998.6BCF7420"
X-MS-Has-Attach: yes

This is a multipart message in MIME format.

------=_NextPart_000_0001_01DB3998.6BCF7420
Content-Type: multipart/alternative;
	boundary="----=_NextPart_001_0002_01DB3998.6BCF7420"


------=_NextPart_001_0002_01DB3998.6BCF7420
Content-Type: text/plain;
	charset="utf-8"
Content-Transfer-Encoding: 7bit

Hello,

the dashboard shows the error below after login.

[cid:image001.png@01DB3998.6A9E4C10]

Logo: [cid:image002.png@01DB3998.6A9E4C10]

Elena

------=_NextPart_001_0002_01DB3998.6BCF7420
Content-Type: text/html;
	charset="utf-8"
Content-Transfer-Encoding: quoted-printable

<html><body><p>Hello,</p><p>the dashboard shows the error below after =
login.</p><p><img width=3D"640" height=3D"200" id=3D"Picture_x0020_1" =
src=3D"cid:image001.png@01DB3998.6A9E4C10" alt=3D"error"></p><p><img =
src=3D"cid:image002.png@01DB3998.6A9E4C10" alt=3D"logo"></p><p>Elena</p></body></html>

------=_NextPart_001_0002_01DB3998.6BCF7420--

------=_NextPart_000_0001_01DB3998.6BCF7420
Content-Type: image/png;
	name="image001.png"
Content-Transfer-Encoding: base64
Content-ID: <image001.png@01DB3998.6A9E4C10>

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9
awAAAABJRU5ErkJggg==

------=_NextPart_000_0001_01DB3998.6BCF7420
Content-Type: image/png;
	name="image002.png"
Content-Transfer-Encoding: base64
Content-ID: <image002.png@01DB3998.6A9E4C10>
Content-Disposition: inline; filename="image002.png"

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9
awAAAABJRU5ErkJgggA=

------=_NextPart_000_0001_01DB3998.6BCF7420--
