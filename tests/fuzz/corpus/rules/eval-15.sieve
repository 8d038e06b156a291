require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if envelope :domain :regex ["from", "to"] "^example\\.com$" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif exists "x-mailer" {
  ticket :priority "high" :type "Incident";
}
elsif exists ["X-Mailer", "subject"] {
  lead :source "Fuzz" :stage "new";
}
elsif exists ["x-mailer", "x-nope"] {
  spam;
stop;
}
