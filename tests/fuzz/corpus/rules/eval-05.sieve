require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if address :is "subject" "x@y.example" {
  lead :source "Fuzz" :stage "new";
}
elsif address :comparator "i;octet" :localpart :is "from" "JÜRGEN" {
  spam;
stop;
}
elsif address :comparator "i;octet" :localpart :is "from" "jürgen" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif address :localpart :regex "from" "^j.rgen$" {
  ticket :priority "high" :type "Incident";
}
