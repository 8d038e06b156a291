require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if header :contains "empty" "" {
  lead :source "Fuzz" :stage "new";
}
elsif header :contains "absent" "" {
  spam;
stop;
}
elsif header :is ["x-other", "X-Spam-Flag"] ["no", "yes"] {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif envelope :is "from" "bounce@vendor.example" {
  ticket :priority "high" :type "Incident";
}
