-- views.sql - the stable interface techs query (SPEC §8). Columns may be
-- added at the end; none is renamed or removed. Recreated whenever a
-- migration runs.
DROP VIEW IF EXISTS v_leads;
DROP VIEW IF EXISTS v_unread_leads;
DROP VIEW IF EXISTS v_tickets;
DROP VIEW IF EXISTS v_ticket_thread;
DROP VIEW IF EXISTS v_activities;
DROP VIEW IF EXISTS v_sync_log;
DROP VIEW IF EXISTS v_notifications;
DROP VIEW IF EXISTS v_campaign_sends;

CREATE VIEW v_leads AS
SELECT l.id              AS id,
       l.created_at      AS created_at,
       l.status          AS status,
       l.hidden          AS hidden,
       l.recipient       AS mailbox,
       l.sender_email    AS sender_email,
       l.sender_name     AS sender_name,
       l.subject         AS subject,
       l.source          AS source,
       l.decided_by      AS decided_by,
       o.name            AS organization,
       e.email           AS contact_email,
       t.number          AS ticket_number,
       u.email           AS assigned_to,
       l.stage           AS stage,
       l.likelihood      AS likelihood,
       l.expected_value  AS expected_value,
       m.spf_result      AS spf,
       l.suspected_spoof AS suspected_spoof,
       l.sender_source   AS sender_source
  FROM leads l
  JOIN messages m ON m.id = l.message_id
  LEFT JOIN organizations o ON o.id = l.organization_id
  LEFT JOIN end_users e ON e.id = l.contact_id
  LEFT JOIN tickets t ON t.id = l.ticket_id
  LEFT JOIN users u ON u.id = l.assigned_user_id;

CREATE VIEW v_unread_leads AS
SELECT * FROM v_leads
 WHERE status = 'unread' AND hidden = 0
 ORDER BY created_at DESC, id DESC;

CREATE VIEW v_tickets AS
SELECT t.number        AS number,
       t.created_at    AS created_at,
       t.subject       AS subject,
       t.status        AS status,
       t.priority      AS priority,
       o.name          AS organization,
       e.email         AS contact_email,
       u.email         AS assigned_to,
       t.created_from  AS created_from,
       (SELECT count(*) FROM ticket_comments c WHERE c.ticket_id = t.id) AS comments,
       (SELECT max(c.created_at) FROM ticket_comments c
         WHERE c.ticket_id = t.id AND c.public = 1 AND c.message_id IS NOT NULL) AS last_customer_reply_at
  FROM tickets t
  LEFT JOIN organizations o ON o.id = t.organization_id
  LEFT JOIN end_users e ON e.id = t.contact_id
  LEFT JOIN users u ON u.id = t.assigned_user_id;

CREATE VIEW v_ticket_thread AS
SELECT ticket_number, at, kind, author, body FROM (
  SELECT t.number AS ticket_number, t.created_at AS at, 'message' AS kind,
         coalesce(m.from_email, t.sender_email) AS author,
         coalesce(m.body_text, '') AS body, 0 AS seq, 0 AS cid
    FROM tickets t LEFT JOIN messages m ON m.id = t.source_message_id
  UNION ALL
  SELECT t.number, c.created_at, CASE c.public WHEN 1 THEN 'public' ELSE 'private' END,
         c.author_email, c.body, 1, c.id
    FROM ticket_comments c JOIN tickets t ON t.id = c.ticket_id
) ORDER BY ticket_number, seq, at, cid;

-- email sync (SPEC §5): lead_email is the counterpart address the activity
-- was logged by; a field that is not among activity_fields is NULL.
CREATE VIEW v_activities AS
SELECT a.id            AS id,
       a.at            AS at,
       CASE a.direction WHEN 'out' THEN 'Email Sent' ELSE 'Email Received' END AS type,
       u.email         AS user_email,
       a.lead_id       AS lead_id,
       a.counterpart   AS lead_email,
       a.subject       AS subject,
       a.from_addr     AS from_addr,
       a.to_addrs      AS to_addrs,
       a.cc_addrs      AS cc_addrs,
       a.bcc_addrs     AS bcc_addrs,
       a.attachments   AS attachments,
       a.direction     AS direction,
       a.ident         AS message_id,
       a.body          AS body,
       a.source        AS source,
       a.purged_at     AS purged_at
  FROM activities a
  JOIN users u ON u.id = a.user_id;

CREATE VIEW v_sync_log AS
SELECT s.at            AS at,
       u.email         AS user_email,
       s.direction     AS direction,
       s.message_id    AS message_id,
       s.subject       AS subject,
       s.outcome       AS outcome,
       s.reason        AS reason,
       s.lead_id       AS lead_id,
       s.counterpart   AS counterpart,
       s.activity_id   AS activity_id,
       s.source        AS source
  FROM sync_log s
  JOIN users u ON u.id = s.user_id;

-- notifications (SPEC §6): one row per (event, user, channel) in the
-- outbox; state queued | sending | sent | failed. target is the webhook URL
-- or the address mail went to.
CREATE VIEW v_notifications AS
SELECT o.id              AS id,
       o.created_at      AS at,
       o.event           AS event,
       u.email           AS user_email,
       o.channel         AS channel,
       o.state           AS state,
       o.attempts        AS attempts,
       o.last_error      AS last_error,
       coalesce(w.url, o.recipient) AS target,
       o.next_attempt_at AS next_attempt_at,
       o.sent_at         AS sent_at,
       o.webhook_id      AS webhook_id,
       e.lead_id         AS lead_id,
       t.number          AS ticket_number
  FROM outbox o
  LEFT JOIN users u ON u.id = o.user_id
  LEFT JOIN webhook_endpoints w ON w.id = o.endpoint_id
  LEFT JOIN events e ON e.id = o.event_id
  LEFT JOIN tickets t ON t.id = e.ticket_id
 WHERE o.kind = 'notification';

-- campaign sends (SPEC §11): one row per (campaign, recipient) of a blast,
-- per (campaign, event) of a triggered campaign. state: queued | sending |
-- sent | bounced (sent, then a hard bounce came back) | failed | skipped |
-- dropped; error says why for the last four.
CREATE VIEW v_campaign_sends AS
SELECT c.name            AS campaign,
       coalesce(o.sent_at, o.created_at) AS at,
       o.recipient       AS recipient,
       org.name          AS organization,
       CASE WHEN o.state = 'sent' AND o.bounced_at IS NOT NULL THEN 'bounced' ELSE o.state END AS state,
       o.last_error      AS error,
       o.id              AS send_id,
       o.next_attempt_at AS due_at,
       o.attempts        AS attempts,
       o.message_id      AS message_id,
       t.number          AS ticket_number,
       o.lead_id         AS lead_id
  FROM outbox o
  JOIN campaigns c ON c.id = o.campaign_id
  LEFT JOIN organizations org ON org.id = o.organization_id
  LEFT JOIN tickets t ON t.id = o.ticket_id
 WHERE o.kind = 'campaign';
