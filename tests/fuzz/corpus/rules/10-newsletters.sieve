# 10-newsletters.sieve - mark newsletters and marketing blasts as spam.
#
# Rule files run in file-name order, so this one (10-) sees every message
# before the vendor and priority rules (20-, 30-). "spam" makes the lead
# lost and hidden: it never becomes a ticket and nobody is notified.
# The first decisive action (spam or ticket) wins; later ones are only
# reported by `leadgate rules test` as ignored.
#
# Check your edits with:  leadgate rules check
require ["vnd.leadgate", "regex"];

# A known newsletter sender, by domain (the part after the last '@').
if address :domain :is "from" ["news.example-shop.com", "mailing.example.net"] {
  spam;
  stop;     # nothing else needs to look at it
}

# Bulk mail that announces itself: a List-Unsubscribe header plus a
# marketing subject. :regex takes a PCRE2 pattern; under the default
# comparator (i;ascii-casemap) it is matched without regard to case.
# Inside a quoted string a backslash must itself be escaped: "\\b".
if allof (exists "List-Unsubscribe",
          header :regex "subject" "\\b(newsletter|webinar|special offer)\\b|\\d+ ?% off") {
  spam;
  stop;
}
