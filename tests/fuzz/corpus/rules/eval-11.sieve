require ["vnd.leadgate", "regex", "envelope", "body", "comparator-i;octet"];
if header :regex "subject" "invoice #[0-9]+$" {
  ticket :organization "Fuzz Org" :assign "rep@example.test";
}
elsif header :regex "subject" "^INVOICE" {
  ticket :priority "high" :type "Incident";
}
elsif header :regex "subject" "MÜNCHEN" {
  lead :source "Fuzz" :stage "new";
}
elsif header :regex "subject" "^Gr.ße" {
  spam;
stop;
}
