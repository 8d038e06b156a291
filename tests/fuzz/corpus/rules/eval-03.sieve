require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if address :localpart :is "to" ["info", "sales"] {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif address :domain :is "cc" "corp.example" {
  ticket :priority "high" :type "Incident";
}
elsif address :is "reply-to" "form@webform.example" {
  lead :source "Fuzz" :stage "new";
}
elsif address :domain :is "sender" "lists.example" {
  spam;
stop;
}
