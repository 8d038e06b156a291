require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if address :is "resent-from" "resent@other.example" {
  ticket :priority "high" :type "Incident";
}
elsif address :is "x-group" "b@team.example" {
  lead :source "Fuzz" :stage "new";
}
elsif address :domain :is "x-group" "team.example" {
  spam;
stop;
}
elsif address :is ["bcc", "from"] "nobody@nowhere.example" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
