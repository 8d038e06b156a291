require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if address :is "from" "jürgen@bücher.example" {
  ticket :priority "high" :type "Incident";
}
elsif address "from" "jürgen@bücher.example" {
  lead :source "Fuzz" :stage "new";
}
elsif address :is "from" "JÜRGEN@BÜCHER.EXAMPLE" {
  spam;
stop;
}
elsif address :is "from" "jürgen@xn--bcher-kva.example" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
