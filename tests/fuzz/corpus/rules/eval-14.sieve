require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if envelope :domain :is "from" "vendor.example" {
  spam;
stop;
}
elsif envelope :localpart :contains "from" "ounc" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif envelope :is "to" "support@example.com" {
  ticket :priority "high" :type "Incident";
}
elsif envelope :localpart :is "to" "sales" {
  lead :source "Fuzz" :stage "new";
}
