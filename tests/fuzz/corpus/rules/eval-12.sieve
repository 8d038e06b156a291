require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if header :comparator "i;octet" :regex "subject" "invoice" {
  ticket :priority "high" :type "Incident";
}
elsif header :is "received" "from b" {
  lead :source "Fuzz" :stage "new";
}
elsif header :is "received" "from c" {
  spam;
stop;
}
elsif header :is "empty" "" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
