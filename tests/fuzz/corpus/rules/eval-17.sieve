require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if size :under 5000 {
  lead :source "Fuzz" :stage "new";
}
elsif size :over 1M {
  spam;
stop;
}
elsif size :under 1G {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif body :text :contains "INVOICE ATTACHED" {
  ticket :priority "high" :type "Incident";
}
