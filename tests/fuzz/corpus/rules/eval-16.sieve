require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if exists "EMPTY" {
  ticket :priority "high" :type "Incident";
}
elsif size :over 4K {
  lead :source "Fuzz" :stage "new";
}
elsif size :over 5000 {
  spam;
stop;
}
elsif size :under 5001 {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
