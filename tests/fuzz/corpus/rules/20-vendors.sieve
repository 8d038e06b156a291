# 20-vendors.sieve - mail from a vendor's domain becomes a ticket for the
# organization that vendor is in leadgate.
#
# "ticket" opens a ticket at once, whatever the mailbox mode says (except
# mode never, which makes no ticket at all). :organization names the
# organization (created when it does not exist yet); the sender becomes
# an end user of it. Other tags: :priority, :type, :assign (a user's
# address), :status.
require "vnd.leadgate";

# Every address leadgate compares is in canonical form (lower case,
# internationalised domains in Unicode), and :domain is what follows the
# last '@'. :matches takes the wildcards '*' and '?'.
if address :domain :matches "from" ["acme.example", "*.acme.example"] {
  ticket :organization "ACME Corporation"
         :type "Vendor"
         :assign "purchasing@example.com";
}

# Several vendors at once with anyof (one of) and a string list.
elsif anyof (address :domain :is "from" "globex.example",
             address :domain :is "reply-to" "globex.example") {
  ticket :organization "Globex" :type "Vendor";
}
