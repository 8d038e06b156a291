-- 003_sync.sql - email sync (SPEC §5): users' own keywords and exclusions,
-- Email Sent / Email Received activities, and the sync log.
-- Both paths that see a user's mail (leadgate-milter, and lmtpd for a copy
-- routed to a user's address) write through the same core filter
-- (src/sync.c), so every rule about duplicates is a constraint here: a
-- replay of a spooled event, or the second path to see a message, changes
-- nothing.
-- Leads captured by sync are ordinary rows of leads: status 'unread',
-- decided_by 'sync', source the configured lead_source, mailbox_mode
-- 'never' (sync never opens a ticket), recipient the counterpart address
-- (one lead per counterpart of a message, as UNIQUE (message_id, recipient)
-- wants), sync_user_id the user whose mail captured it.

ALTER TABLE leads ADD COLUMN sync_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL;

-- a user's own keywords (used when [outbound|inbound] user_keywords is on)
CREATE TABLE user_keywords (
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	keyword    TEXT NOT NULL CHECK (length(keyword) BETWEEN 1 AND 200),
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (user_id, keyword)
);

-- a user's own exclusions: an address or a domain (used when user_exclusions is on)
CREATE TABLE user_exclusions (
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	item       TEXT NOT NULL CHECK (length(item) BETWEEN 1 AND 320),   -- canonical, lower case
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (user_id, item)
);

-- one activity per (message ident, user, direction, lead), whichever path saw it first
CREATE TABLE activities (
	id           INTEGER PRIMARY KEY,
	direction    TEXT NOT NULL CHECK (direction IN ('in', 'out')),    -- in: Email Received, out: Email Sent
	ident        TEXT NOT NULL,               -- Message-ID, or 'sha256:' || hash without one
	user_id      INTEGER NOT NULL REFERENCES users (id),
	lead_id      INTEGER NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
	message_id   INTEGER REFERENCES messages (id),
	counterpart  TEXT NOT NULL,               -- the address the lead was found or captured by
	from_addr    TEXT NOT NULL,               -- From and To are always kept
	to_addrs     TEXT NOT NULL,
	cc_addrs     TEXT,                        -- NULL: the field is not among activity_fields
	bcc_addrs    TEXT,
	subject      TEXT,
	body         TEXT,                        -- cut at [sync] body_max; NULL once purged
	attachments  TEXT,                        -- "name (type, size bytes)", '; ' separated
	source       TEXT NOT NULL CHECK (source IN ('milter', 'lmtpd', 'cli')),
	at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	purged_at    TEXT,
	UNIQUE (ident, user_id, direction, lead_id)
);
CREATE INDEX activities_lead ON activities (lead_id);
CREATE INDEX activities_user ON activities (user_id, at);

-- every outcome of the filter for a user: synced, lead captured, or skipped with its reason
CREATE TABLE sync_log (
	id          INTEGER PRIMARY KEY,
	at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	user_id     INTEGER NOT NULL REFERENCES users (id),
	direction   TEXT NOT NULL CHECK (direction IN ('in', 'out')),
	ident       TEXT NOT NULL,
	message_id  TEXT,                         -- the Message-ID header, without <>
	subject     TEXT,
	counterpart TEXT NOT NULL DEFAULT '',     -- '' for an outcome of the whole message
	outcome     TEXT NOT NULL CHECK (outcome IN ('synced', 'captured', 'skipped')),
	reason      TEXT CHECK (reason IS NULL OR reason IN ('sync_off', 'removed', 'role_not_allowed',
	                'automated', 'internal', 'excluded', 'no_keyword', 'too_many_counterparts', 'no_lead',
	                'spam')),
	lead_id     INTEGER REFERENCES leads (id) ON DELETE SET NULL,
	activity_id INTEGER REFERENCES activities (id) ON DELETE SET NULL,
	source      TEXT NOT NULL CHECK (source IN ('milter', 'lmtpd', 'cli')),
	CHECK ((outcome = 'skipped') = (reason IS NOT NULL)),
	-- a replay, or the second path to see the message, logs nothing new
	UNIQUE (ident, user_id, direction, counterpart)
);
CREATE INDEX sync_log_at ON sync_log (at);
CREATE INDEX sync_log_user ON sync_log (user_id, at);
