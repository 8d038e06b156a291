#!/bin/bash
# tests/integration/docs.sh - the man pages keep up with the code: every
# config key is in leadgate.conf(5), every command in leadgate(1), every
# view column in leadgate-views(7).
source "$top_srcdir/tests/tap.sh"
source "$top_srcdir/tests/lib.sh"
man="$top_srcdir/man"
while IFS= read -r line; do
  case "$line" in
    "["*) section="$line" ;;
    ""|"#"*) ;;
    *) key="${line%% = *}"
       check "leadgate.conf(5) documents $section $key" grep -q "^\.BR $key " "$man/leadgate.conf.5" ;;
  esac
done < <("$LEADGATE" config defaults)
for cmd in $("$LEADGATE" help | awk '/^  [a-z]/ {print $1}'); do
  check "leadgate(1) documents '$cmd'" grep -Eq "^\.(B|BR|BI|TP).*\b$cmd\b" "$man/leadgate.1"
done
lg init >/dev/null
for v in v_leads v_unread_leads v_tickets v_ticket_thread v_activities v_sync_log v_notifications v_campaign_sends; do
  for col in $(sqlq "select name from pragma_table_info('$v')"); do
    check "leadgate-views(7) documents $v.$col" grep -q "$col" "$man/leadgate-views.7"
  done
done
is "$(sqlq "select group_concat(name, ',') from pragma_table_info('v_leads')")" \
   "id,created_at,status,hidden,mailbox,sender_email,sender_name,subject,source,decided_by,organization,contact_email,ticket_number,assigned_to,stage,likelihood,expected_value,spf,suspected_spoof,sender_source" \
   "v_leads has the columns of SPEC §8 in order, then sender_source"
is "$(sqlq "select group_concat(name, ',') from pragma_table_info('v_tickets')")" \
   "number,created_at,subject,status,priority,organization,contact_email,assigned_to,created_from,comments,last_customer_reply_at" \
   "v_tickets has exactly the columns of SPEC §8"
is "$(sqlq "select group_concat(name, ',') from pragma_table_info('v_ticket_thread')")" \
   "ticket_number,at,kind,author,body" "v_ticket_thread has exactly the columns of SPEC §8"
is "$(sqlq "select group_concat(name, ',') from pragma_table_info('v_activities')")" \
   "id,at,type,user_email,lead_id,lead_email,subject,from_addr,to_addrs,cc_addrs,bcc_addrs,attachments,direction,message_id,body,source,purged_at" \
   "v_activities has the columns of SPEC §8 in order, then more"
is "$(sqlq "select group_concat(name, ',') from pragma_table_info('v_sync_log')")" \
   "at,user_email,direction,message_id,subject,outcome,reason,lead_id,counterpart,activity_id,source" \
   "v_sync_log has the columns of SPEC §8 in order, then more"
is "$(sqlq "select group_concat(name, ',') from pragma_table_info('v_campaign_sends')")" \
   "campaign,at,recipient,organization,state,error,send_id,due_at,attempts,message_id,ticket_number,lead_id" \
   "v_campaign_sends has the columns of SPEC §8 in order, then more"
is "$(sqlq "select group_concat(name, ',') from pragma_table_info('v_unread_leads')")" \
   "$(sqlq "select group_concat(name, ',') from pragma_table_info('v_leads')")" "v_unread_leads has the columns of v_leads"
is "$(sqlq "select group_concat(name, ',') from pragma_table_info('v_notifications')")" \
   "id,at,event,user_email,channel,state,attempts,last_error,target,next_attempt_at,sent_at,webhook_id,lead_id,ticket_number" \
   "v_notifications has the columns of SPEC §8 in order, then more"
# one schema version per numbered migration in sql/ (whoever adds the next)
nmig=$(ls "$top_srcdir"/sql/[0-9][0-9][0-9]_*.sql | wc -l)
is "$(sqlq "pragma user_version")/$(sqlq "pragma journal_mode")" "$nmig/wal" "schema version tracked (one per migration), WAL on"
done_testing
