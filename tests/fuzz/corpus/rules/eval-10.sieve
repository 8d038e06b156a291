require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if header :matches "x-stars" "a\\*b?c*" {
  spam;
stop;
}
elsif header :matches "x-stars" "a\\?*" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif header :matches "x-stars" "A\\*B*" {
  ticket :priority "high" :type "Incident";
}
elsif header :comparator "i;octet" :matches "x-stars" "A*" {
  lead :source "Fuzz" :stage "new";
}
