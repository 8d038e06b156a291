require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if address :domain :is "from" "xn--bcher-kva.example" {
  lead :source "Fuzz" :stage "new";
}
elsif address :domain :is "From" "bücher.example" {
  spam;
stop;
}
elsif address :localpart :is "from" "jürgen" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif address :localpart :is "from" "bücher.example" {
  ticket :priority "high" :type "Incident";
}
