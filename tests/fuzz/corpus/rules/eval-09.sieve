require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if header :matches "subject" "*#123" {
  lead :source "Fuzz" :stage "new";
}
elsif header :matches "subject" "*" {
  spam;
stop;
}
elsif header :matches "subject" "G*?*?*4" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif header :matches "x-stars" "a\\*b\\?c\\\\d" {
  ticket :priority "high" :type "Incident";
}
