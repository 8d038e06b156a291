require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if address :domain :regex "from" "^B\\w+CHER\\." {
  spam;
stop;
}
elsif header :contains "subject" "münchen" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif header :contains "subject" "München" {
  ticket :priority "high" :type "Incident";
}
elsif header :contains "subject" "MÜNCHEN" {
  lead :source "Fuzz" :stage "new";
}
