-- 004_outbox.sql - notifications (SPEC §6) and the outbox they are sent
-- from, which the mailer's campaign sends (SPEC §11) will share.
--
-- The chain writes an events row inside the delivery's transaction and, in
-- the same transaction, one outbox row per (event, user, channel, endpoint)
-- with a single INSERT ... SELECT over notify_subscriptions (src/outbox.c's
-- fan-out). Nothing else happens on the delivery path: the rows are sent
-- later by the outbox worker (leadgate-lmtpd's thread, `leadgate outbox
-- run`), which claims a row before sending it and finishes it after.

-- who acted: the sender of the mail, or the user who ran the command; that
-- user is never notified of the event (SPEC §6)
ALTER TABLE events ADD COLUMN actor_email TEXT;

-- a webhook endpoint (one per URL), shared by every subscription naming it
CREATE TABLE webhook_endpoints (
	id              INTEGER PRIMARY KEY,
	url             TEXT NOT NULL UNIQUE CHECK (url LIKE 'http://%' OR url LIKE 'https://%'),
	-- the signing secret ("whsec_" + base64 of 24 to 64 bytes): generated and
	-- kept here, or read from secret_file at every send (one secret a line;
	-- two lines while a secret is rotated: both sign)
	secret          TEXT,
	secret_file     TEXT,
	disabled_at     TEXT,                        -- the endpoint answered 410 Gone
	disabled_reason TEXT,
	created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	CHECK ((secret IS NULL) <> (secret_file IS NULL))
);

-- a user's subscription to one event, by one channel (and endpoint)
CREATE TABLE notify_subscriptions (
	id          INTEGER PRIMARY KEY,
	user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	event       TEXT NOT NULL CHECK (event IN ('lead.created', 'lead.replied', 'lead.assigned',
	                'ticket.created_from_email', 'ticket.customer_replied', 'ticket.assigned')),
	-- any: every such event; my: the lead or ticket is assigned to the user;
	-- subscribed: the user is a subscriber of the ticket
	scope       TEXT NOT NULL DEFAULT 'any' CHECK (scope IN ('any', 'my', 'subscribed')),
	channel     TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
	endpoint_id INTEGER REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	CHECK ((channel = 'webhook') = (endpoint_id IS NOT NULL))
);
CREATE UNIQUE INDEX notify_subscriptions_one ON notify_subscriptions (user_id, event, channel, coalesce(endpoint_id, 0));
CREATE INDEX notify_subscriptions_event ON notify_subscriptions (event);

-- The outbox. kind 'notification': one row per (event, user, channel,
-- endpoint). kind 'campaign' is the mailer's (SPEC §11): one row per
-- (campaign, recipient), added by its own migration with its own columns;
-- the state machine, the claim and the retry schedule are shared.
--   queued  -> sending (claimed: claim_token, claim_expires_at)
--   sending -> sent | queued (a retry at next_attempt_at) | failed
--   a claim past claim_expires_at belongs to a dead worker: claimable again
CREATE TABLE outbox (
	id               INTEGER PRIMARY KEY,
	kind             TEXT NOT NULL DEFAULT 'notification' CHECK (kind IN ('notification', 'campaign')),
	event_id         INTEGER REFERENCES events (id) ON DELETE CASCADE,
	event            TEXT NOT NULL,              -- event type (a campaign: its name)
	user_id          INTEGER REFERENCES users (id) ON DELETE CASCADE,
	channel          TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
	endpoint_id      INTEGER REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	recipient        TEXT,                       -- the address mail goes to (channel email)
	webhook_id       TEXT NOT NULL UNIQUE,       -- webhook-id, stable across retries; seeds the Message-ID
	payload          TEXT NOT NULL,              -- the JSON body
	state            TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	claim_token      TEXT,
	claim_expires_at TEXT,
	last_error       TEXT,
	sent_at          TEXT,
	created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	CHECK ((channel = 'webhook') = (endpoint_id IS NOT NULL))
);
CREATE UNIQUE INDEX outbox_one ON outbox (event_id, user_id, channel, coalesce(endpoint_id, 0)) WHERE kind = 'notification';
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
