require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if body :contains "regards" {
  spam;
stop;
}
elsif body :text :is "x" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif body :text :regex "invoice\\s+attached" {
  ticket :priority "high" :type "Incident";
}
elsif body :comparator "i;octet" :contains "hello" {
  lead :source "Fuzz" :stage "new";
}
