require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if header :is "subject" "grüße aus münchen" {
  ticket :priority "high" :type "Incident";
}
elsif header :matches "subject" "Gr?ße aus *" {
  lead :source "Fuzz" :stage "new";
}
elsif header :matches "subject" "Gr?e*" {
  spam;
stop;
}
elsif header :matches "subject" "*#1234" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
