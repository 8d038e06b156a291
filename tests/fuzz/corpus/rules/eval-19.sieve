require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if body :text :matches "Hello,*Regards*" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif body :text :matches "Hello" {
  ticket :priority "high" :type "Incident";
}
elsif true {
  lead :source "Fuzz" :stage "new";
}
elsif false {
  spam;
stop;
}
