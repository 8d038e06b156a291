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
