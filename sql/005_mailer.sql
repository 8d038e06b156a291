-- 005_mailer.sql - the mailer (SPEC §11): consent, saved organization
-- searches, campaigns, and campaign sends as rows of the shared outbox.

-- ---- consent -------------------------------------------------------------
-- An end user or organization made from inbound mail never consented to
-- marketing mail, and before this migration nothing could set the flag, so
-- every flag is cleared here. A flag counts as consent only when it was set
-- on purpose (`leadgate contact|org set ... marketing on`), which stamps
-- marketing_changed_at; the triggers below turn any other insert with the
-- flag on (the columns' old default, a tech's plain INSERT) off, so the
-- effective default is off without rebuilding the tables.
ALTER TABLE end_users ADD COLUMN marketing_changed_at TEXT;
-- cli | unsubscribe:mailto | unsubscribe:url | bounce
ALTER TABLE end_users ADD COLUMN marketing_changed_by TEXT;
ALTER TABLE organizations ADD COLUMN marketing_changed_at TEXT;
ALTER TABLE organizations ADD COLUMN marketing_changed_by TEXT;
UPDATE end_users SET receive_marketing = 0;
UPDATE organizations SET receive_marketing = 0;
CREATE TRIGGER end_users_no_implicit_consent AFTER INSERT ON end_users
	WHEN new.receive_marketing = 1 AND new.marketing_changed_at IS NULL
BEGIN
	UPDATE end_users SET receive_marketing = 0 WHERE id = new.id;
END;
CREATE TRIGGER organizations_no_implicit_consent AFTER INSERT ON organizations
	WHEN new.receive_marketing = 1 AND new.marketing_changed_at IS NULL
BEGIN
	UPDATE organizations SET receive_marketing = 0 WHERE id = new.id;
END;

-- ---- events the mailer's triggered campaigns follow ------------------------
-- ticket.resolved and lead.won are raised here, whatever resolved the ticket
-- or won the lead (the chain, the CLI, or a tech's UPDATE); lead.created is
-- raised by the chain. actor_email stays NULL: nobody is notified of these.
-- A lead counts as won when it opened or joined a ticket on its own merit:
-- not a reply that became a comment on an existing ticket (decided_by
-- 'ticket-reply'), and never automatic mail.
CREATE TRIGGER tickets_resolved_event AFTER UPDATE OF status ON tickets
	WHEN new.status = 'resolved' AND old.status <> 'resolved'
BEGIN
	INSERT INTO events (event, ticket_id) VALUES ('ticket.resolved', new.id);
END;
CREATE TRIGGER leads_won_event_insert AFTER INSERT ON leads
	WHEN new.status = 'won' AND new.hidden = 0 AND new.automatic = 0 AND new.decided_by <> 'ticket-reply'
BEGIN
	INSERT INTO events (event, lead_id, ticket_id, sender_email) VALUES ('lead.won', new.id, new.ticket_id, new.sender_email);
END;
CREATE TRIGGER leads_won_event_update AFTER UPDATE OF status ON leads
	WHEN new.status = 'won' AND old.status <> 'won' AND new.hidden = 0 AND new.automatic = 0
BEGIN
	INSERT INTO events (event, lead_id, ticket_id, sender_email) VALUES ('lead.won', new.id, new.ticket_id, new.sender_email);
END;
CREATE INDEX events_event ON events (event, id);

-- ---- saved organization searches (`leadgate search save`) -----------------
-- Every criterion given must hold (AND); none given: all organizations.
CREATE TABLE saved_searches (
	id               INTEGER PRIMARY KEY,
	name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	name_like        TEXT,                      -- LIKE pattern on the organization's name (% and _)
	domain           TEXT,                      -- one of the organization's domains (canonical, lower case)
	has_open_tickets INTEGER NOT NULL DEFAULT 0 CHECK (has_open_tickets IN (0, 1)),
	created_since    TEXT,                      -- organizations created on or after (ISO 8601)
	created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX saved_searches_name ON saved_searches (name COLLATE NOCASE);

-- ---- campaigns (`leadgate mailer create`) ----------------------------------
-- The template is read when the campaign is created and kept here: what is
-- sent does not change when the file does.
--   blast:     draft --send--> active --(every row finished)--> done
--   triggered: active from creation (events after created_event_id)
--   either:    active <--pause/resume--> paused
CREATE TABLE campaigns (
	id             INTEGER PRIMARY KEY,
	name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	kind           TEXT NOT NULL CHECK (kind IN ('blast', 'triggered')),
	search_id      INTEGER REFERENCES saved_searches (id) ON DELETE RESTRICT,   -- blast; NULL: all organizations
	trigger_event  TEXT CHECK (trigger_event IN ('ticket.resolved', 'lead.won', 'lead.created')),
	delay_seconds  INTEGER CHECK (delay_seconds >= 0),
	subject        TEXT NOT NULL,
	body_text      TEXT NOT NULL,
	body_html      TEXT,
	state          TEXT NOT NULL CHECK (state IN ('draft', 'active', 'paused', 'done')),
	last_event_id  INTEGER NOT NULL DEFAULT 0,  -- triggered: events up to this id are scheduled (or passed over)
	created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	started_at     TEXT,
	finished_at    TEXT,
	CHECK ((kind = 'triggered') = (trigger_event IS NOT NULL)),
	CHECK ((kind = 'triggered') = (delay_seconds IS NOT NULL)),
	CHECK (kind = 'blast' OR search_id IS NULL)
);
CREATE UNIQUE INDEX campaigns_name ON campaigns (name COLLATE NOCASE);

-- ---- the outbox, rebuilt for campaign sends ---------------------------------
-- New states and columns need a new table (SQLite cannot alter a CHECK).
-- Nothing references outbox, so it is copied, dropped and renamed in this
-- transaction; the views that read it are recreated by views.sql.
--   kind 'campaign': one row per (campaign, end user) for a blast, per
--   (campaign, event) for a triggered campaign; next_attempt_at is when it
--   is due. Extra states:
--     skipped  the recipient no longer qualifies when its turn came (consent
--              withdrawn, undeliverable, spam-listed, no address): reason in
--              last_error; never sent
--     dropped  a triggered send not made within [mailer] max_lateness, or
--              the triggered campaign was over max_triggered_per_day for
--              that long: reason in last_error; never sent
--   phase 'data': the worker is handing the end of DATA to the MTA. A row
--   found in 'sending' with an expired claim was sent if and only if its
--   phase is 'data' (the one ambiguous case: see src/mailer.c); otherwise
--   it was never given to the MTA and is sent again.
DROP VIEW IF EXISTS v_notifications;
DROP VIEW IF EXISTS v_campaign_sends;
CREATE TABLE outbox_new (
	id               INTEGER PRIMARY KEY,
	kind             TEXT NOT NULL DEFAULT 'notification' CHECK (kind IN ('notification', 'campaign')),
	event_id         INTEGER REFERENCES events (id) ON DELETE CASCADE,
	event            TEXT NOT NULL,              -- event type (a campaign: its name)
	user_id          INTEGER REFERENCES users (id) ON DELETE CASCADE,
	channel          TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
	endpoint_id      INTEGER REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	recipient        TEXT,                       -- the address mail goes to (channel email)
	webhook_id       TEXT NOT NULL UNIQUE,       -- webhook-id, stable across retries; seeds the Message-ID
	payload          TEXT NOT NULL,              -- the JSON body (campaign: the placeholders' values)
	state            TEXT NOT NULL DEFAULT 'queued'
	                 CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'skipped', 'dropped')),
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	claim_token      TEXT,
	claim_expires_at TEXT,
	last_error       TEXT,
	sent_at          TEXT,
	created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	-- campaign rows
	campaign_id      INTEGER REFERENCES campaigns (id) ON DELETE CASCADE,
	end_user_id      INTEGER REFERENCES end_users (id) ON DELETE SET NULL,
	organization_id  INTEGER REFERENCES organizations (id) ON DELETE SET NULL,
	trigger_event_id INTEGER,                    -- the events row a triggered send follows (no FK: events may be pruned)
	ticket_id        INTEGER REFERENCES tickets (id) ON DELETE SET NULL,
	lead_id          INTEGER REFERENCES leads (id) ON DELETE SET NULL,
	message_id       TEXT,                       -- the keyed Message-ID the mail carries
	phase            TEXT CHECK (phase IS NULL OR phase = 'data'),
	bounced_at       TEXT,                       -- a hard bounce came back for it
	CHECK ((channel = 'webhook') = (endpoint_id IS NOT NULL)),
	CHECK ((kind = 'campaign') = (campaign_id IS NOT NULL))
);
INSERT INTO outbox_new (id, kind, event_id, event, user_id, channel, endpoint_id, recipient, webhook_id, payload,
                        state, attempts, next_attempt_at, claim_token, claim_expires_at, last_error, sent_at, created_at)
SELECT id, kind, event_id, event, user_id, channel, endpoint_id, recipient, webhook_id, payload,
       state, attempts, next_attempt_at, claim_token, claim_expires_at, last_error, sent_at, created_at
  FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE UNIQUE INDEX outbox_one ON outbox (event_id, user_id, channel, coalesce(endpoint_id, 0)) WHERE kind = 'notification';
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
-- exactly one send per blast recipient, and per triggering event
CREATE UNIQUE INDEX outbox_blast_once ON outbox (campaign_id, end_user_id)
	WHERE kind = 'campaign' AND trigger_event_id IS NULL;
CREATE UNIQUE INDEX outbox_trigger_once ON outbox (campaign_id, trigger_event_id)
	WHERE kind = 'campaign' AND trigger_event_id IS NOT NULL;
CREATE INDEX outbox_campaign ON outbox (campaign_id, state) WHERE kind = 'campaign';
CREATE INDEX outbox_recipient ON outbox (recipient) WHERE kind = 'campaign';
