require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if not false {
  ticket :priority "high" :type "Incident";
}
elsif not true {
  lead :source "Fuzz" :stage "new";
}
elsif not not true {
  spam;
stop;
}
elsif allof (true, true) {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
