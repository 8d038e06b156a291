require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if header :contains "Subject" "INVOICE" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif header :comparator "i;octet" :contains "subject" "INVOICE" {
  ticket :priority "high" :type "Incident";
}
elsif header :comparator "i;octet" :contains "subject" "Invoice" {
  lead :source "Fuzz" :stage "new";
}
elsif header :is "subject" "grüße aus münchen — invoice #1234" {
  spam;
stop;
}
