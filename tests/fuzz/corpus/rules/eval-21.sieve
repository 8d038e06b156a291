require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if allof (true, false) {
  lead :source "Fuzz" :stage "new";
}
elsif anyof (false, false) {
  spam;
stop;
}
elsif anyof (false, true) {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif allof (address :domain :is "from" "bücher.example", not exists "x-nope", anyof (size :over 1M, header :contains "x-mailer" "bird")) {
  ticket :priority "high" :type "Incident";
}
