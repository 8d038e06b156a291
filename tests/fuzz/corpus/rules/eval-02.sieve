require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if address :domain :is "from" "example" {
  spam;
stop;
}
elsif address :domain :matches "from" "*.example" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif address :domain :matches "from" "b?cher.*" {
  ticket :priority "high" :type "Incident";
}
elsif address :all :contains "to" "sales@" {
  lead :source "Fuzz" :stage "new";
}
