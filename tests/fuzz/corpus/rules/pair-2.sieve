# 30-priority.sieve - raise the priority of urgent-looking mail.
#
# When no earlier rule decided, a subject that says "urgent", "outage" or
# "down" opens a ticket with priority "urgent". A ticket opened by an
# earlier file (20-vendors.sieve) is not changed: the first decisive
# action wins.
require ["vnd.leadgate", "regex"];

if header :regex "subject" "^(re: *)?\\[?(urgent|outage|emergency)\\]?|\\b(is|are|went) down\\b" {
  ticket :priority "urgent" :type "Incident";
}
# Also by size: a huge message with a "log" in its subject is most
# likely a support case with logs attached.
elsif allof (size :over 2M, header :contains "subject" "log") {
  ticket :priority "high";
}

#%%MESSAGE
Return-Path: <bounces+4711@lists.example.com>
Delivered-To: support@example.test
Received: from o1.lists.example.com (o1.lists.example.com [198.51.100.66])
	by mx1.example.test (Postfix) with ESMTPS id 4YD6D90169
	for <support@example.test>; Thu, 21 Nov 2024 07:00:00 +0000
Received: from [10.20.30.22] (unknown [203.0.113.37])
	(Authenticated sender: bounces+4711)
	by o1.lists.example.com (Postfix) with ESMTPSA id D6D90169ED
	for <support@example.test>; Thu, 21 Nov 2024 07:00:00 +0000
Authentication-Results: mx1.example.test;
	dkim=pass header.d=lists.example.com header.s=mail2024 header.b="wrW9CmCB";
	spf=pass (mx1.example.test: domain of bounces+4711@lists.example.com designates 198.51.100.66 as permitted sender) smtp.mailfrom=bounces+4711@lists.example.com;
	dmarc=pass (p=quarantine dis=none) header.from=lists.example.com
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=lists.example.com;
	s=mail2024; t=1732172400;
	bh=higNxk0mWZkZYVtUEUK6yAe2Sf3RwIRPyfHFDqq+5BU=;
	h=From:To:Subject:Date:Message-ID:MIME-Version:Content-Type;
	b=uA3KjhmMEDgHLqjGIVSbhiJ6K091U74nGvttkcdUHA9yCSsZFhdp4ZeXRfg/52ve
	 alNhcFfpbdsZEl6xfIHHIX4IkvrpxiTctan/i1TDccvCuz7kIt4nCwKgmeW3/aC+
From: Example Weekly <news@lists.example.com>
Reply-To: Example Weekly <editor@example.com>
To: support@example.test
Subject: Example Weekly #47: 5 ways to speed up your help desk
Date: Thu, 21 Nov 2024 07:00:00 +0000
Message-ID: <20241121070000.4711.news@lists.example.com>
Precedence: bulk
List-Id: Example Weekly <weekly.lists.example.com>
List-Unsubscribe: <mailto:unsubscribe-4711-a8f3@lists.example.com?subject=unsubscribe>,
 <https://lists.example.com/u/4711/a8f3c2>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
Feedback-ID: 4711:weekly:newsletters:example
X-Campaign: weekly-47
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1_8f3c2a9d7e6b5a4c3d2e1f0a9b8c7d6e"

--b1_8f3c2a9d7e6b5a4c3d2e1f0a9b8c7d6e
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

Example Weekly #47

1. Write canned answers
2. Tag tickets early
...

Unsubscribe: https://lists.example.com/u/4711/a8f3c2

--b1_8f3c2a9d7e6b5a4c3d2e1f0a9b8c7d6e
Content-Type: text/html; charset=us-ascii
Content-Transfer-Encoding: 7bit

<!DOCTYPE html><html><body><h1>Example Weekly #47</h1><ol><li>Write canned answers</li>
<li>Tag tickets early</li></ol><p><a href="https://lists.example.com/u/4711/a8f3c2">Unsubscribe</a></p>
<img src="https://lists.example.com/o/4711.gif" width="1" height="1" alt=""></body></html>

--b1_8f3c2a9d7e6b5a4c3d2e1f0a9b8c7d6e--
