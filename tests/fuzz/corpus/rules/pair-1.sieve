# 20-vendors.sieve - mail from a vendor's domain becomes a ticket for the
# organization that vendor is in leadgate.
#
# "ticket" opens a ticket at once, whatever the mailbox mode says (except
# mode never, which makes no ticket at all). :organization names the
# organization (created when it does not exist yet); the sender becomes
# an end user of it. Other tags: :priority, :type, :assign (a user's
# address), :status.
require "vnd.leadgate";

# Every address leadgate compares is in canonical form (lower case,
# internationalised domains in Unicode), and :domain is what follows the
# last '@'. :matches takes the wildcards '*' and '?'.
if address :domain :matches "from" ["acme.example", "*.acme.example"] {
  ticket :organization "ACME Corporation"
         :type "Vendor"
         :assign "purchasing@example.com";
}

# Several vendors at once with anyof (one of) and a string list.
elsif anyof (address :domain :is "from" "globex.example",
             address :domain :is "reply-to" "globex.example") {
  ticket :organization "Globex" :type "Vendor";
}

#%%MESSAGE
Return-Path: <>
Delivered-To: support@example.test
Received: from mx2.example.org (mx2.example.org [198.51.100.60])
	by mx1.example.test (Postfix) with ESMTPS id 4Y7Q2r1Zs9z4x
	for <support@example.test>; Tue, 19 Nov 2024 08:30:02 +0100 (CET)
Received: by mx2.example.org (Postfix)
	id 0E3A51C0123; Tue, 19 Nov 2024 08:30:01 +0100 (CET)
Authentication-Results: mx1.example.test; spf=none smtp.helo=mx2.example.org
Date: Tue, 19 Nov 2024 08:30:01 +0100 (CET)
From: MAILER-DAEMON@mx2.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: support@example.test
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="0E3A51C0123.1732001401/mx2.example.org"
Content-Transfer-Encoding: 8bit
Message-Id: <20241119073001.0E3A51C0123@mx2.example.org>

This is a MIME-encapsulated message.

--0E3A51C0123.1732001401/mx2.example.org
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mx2.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<jan.kowalski@example.org>: host mbox.example.org[198.51.100.61] said: 550
    5.1.1 <jan.kowalski@example.org>: Recipient address rejected: User unknown
    in virtual mailbox table (in reply to RCPT TO command)

--0E3A51C0123.1732001401/mx2.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx2.example.org
X-Postfix-Queue-ID: 0E3A51C0123
X-Postfix-Sender: rfc822; support@example.test
Arrival-Date: Tue, 19 Nov 2024 08:30:00 +0100 (CET)

Final-Recipient: rfc822; jan.kowalski@example.org
Original-Recipient: rfc822;Jan.Kowalski@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mbox.example.org
Diagnostic-Code: smtp; 550 5.1.1 <jan.kowalski@example.org>: Recipient address
    rejected: User unknown in virtual mailbox table

--0E3A51C0123.1732001401/mx2.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

Return-Path: <support@example.test>
Received: from mx1.example.test (mx1.example.test [192.0.2.10])
	by mx2.example.org (Postfix) with ESMTPS id 0E3A51C0123
	for <Jan.Kowalski@example.org>; Tue, 19 Nov 2024 08:30:00 +0100 (CET)
From: Example Support <support@example.test>
To: Jan Kowalski <Jan.Kowalski@example.org>
Subject: [Ticket #1042] Printer driver does not install
Date: Tue, 19 Nov 2024 08:29:58 +0100
Message-ID: <lg.1042.3.f00dfeed@example.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

--0E3A51C0123.1732001401/mx2.example.org--
