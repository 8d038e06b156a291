# 40-webform.sieve - set the lead source of mail sent by the web site's
# contact form.
#
# "lead" changes the lead's fields (:source, :stage, :assign) and decides
# nothing: the chain goes on to the mailbox mode. A later lead action
# overrides a field an earlier one set.
require ["vnd.leadgate", "envelope", "body"];

# The form sends from its own address, with the visitor in Reply-To
# (leadgate then treats Reply-To as the sender for matching).
if anyof (address :is "from" "no-reply@www.example.com",
          envelope :is "from" "forms@www.example.com",
          header :is "X-Mailer" "ExampleForms") {
  lead :source "Web form" :stage "new";

  # Quote requests go straight to sales.
  if body :text :contains ["request a quote", "pricing"] {
    lead :assign "sales@example.com";
  }
}
