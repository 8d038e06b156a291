-- 001_initial.sql - leadgate schema, version 1 (SPEC §2).
-- Applied by lg_store_open(LG_STORE_MIGRATE) inside one transaction, which
-- then sets PRAGMA user_version = 1. Never edit a released migration: add
-- 002_*.sql. Times are ISO 8601 UTC text ("2026-11-24T01:02:03.456Z").
-- Every uniqueness rule of the product is a constraint here (SPEC §12).

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
-- the key of the keyed references in Message-IDs leadgate generates (SPEC §3)
INSERT INTO settings (key, value) VALUES ('ref_key', lower(hex(randomblob(32))));

CREATE TABLE organizations (
	id                INTEGER PRIMARY KEY,
	name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
	receive_marketing INTEGER NOT NULL DEFAULT 1 CHECK (receive_marketing IN (0, 1)),
	created_from      TEXT NOT NULL DEFAULT 'manual' CHECK (created_from IN ('manual', 'email', 'lead-conversion', 'rule')),
	created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX organizations_name ON organizations (name COLLATE NOCASE);

CREATE TABLE organization_domains (
	domain          TEXT PRIMARY KEY,          -- canonical, lower case
	organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE
);
CREATE INDEX organization_domains_org ON organization_domains (organization_id);

-- end users (contacts): one per address
CREATE TABLE end_users (
	id                INTEGER PRIMARY KEY,
	email             TEXT NOT NULL UNIQUE,    -- canonical (see address.h)
	name              TEXT,
	organization_id   INTEGER REFERENCES organizations (id) ON DELETE SET NULL,
	receive_marketing INTEGER NOT NULL DEFAULT 1 CHECK (receive_marketing IN (0, 1)),
	created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX end_users_org ON end_users (organization_id);

-- techs and sales reps
CREATE TABLE users (
	id           INTEGER PRIMARY KEY,
	email        TEXT NOT NULL UNIQUE,
	name         TEXT,
	role         TEXT NOT NULL DEFAULT 'tech' CHECK (role IN ('admin', 'tech', 'sales', 'marketing', 'manager')),
	sync_enabled INTEGER NOT NULL DEFAULT 0 CHECK (sync_enabled IN (0, 1)),
	removed_at   TEXT,
	created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- inbound addresses and their ticket mode
CREATE TABLE mailboxes (
	id         INTEGER PRIMARY KEY,
	address    TEXT NOT NULL UNIQUE,
	mode       TEXT NOT NULL CHECK (mode IN ('always', 'existing', 'never')),
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- spam senders: an address ("a@b.example") or a whole domain ("b.example")
CREATE TABLE spam_senders (
	id         INTEGER PRIMARY KEY,
	pattern    TEXT NOT NULL UNIQUE,
	kind       TEXT NOT NULL CHECK (kind IN ('address', 'domain')),
	lead_id    INTEGER,                         -- the lead it was marked from, if any
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- raw messages, content-addressed: stored once per SHA-256
CREATE TABLE raw_messages (
	sha256     TEXT PRIMARY KEY CHECK (length(sha256) = 64),
	size       INTEGER NOT NULL CHECK (size >= 0),
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	purged_at  TEXT,
	-- last, so that zeroblob() stays lazy and the bytes stream in (blob I/O)
	data       BLOB                             -- NULL once purged
);

-- every message leadgate has seen, once per direction and content
CREATE TABLE messages (
	id             INTEGER PRIMARY KEY,
	direction      TEXT NOT NULL CHECK (direction IN ('in', 'out')),
	sha256         TEXT NOT NULL REFERENCES raw_messages (sha256),
	message_id     TEXT,                        -- without <>
	ident          TEXT NOT NULL,               -- message_id, or 'sha256:' || sha256 without one
	in_reply_to    TEXT,
	refs           TEXT,                        -- References, space separated
	env_sender     TEXT NOT NULL,               -- '' for the null sender
	env_recipients TEXT NOT NULL,               -- space separated
	from_email     TEXT,
	from_name      TEXT,
	reply_to       TEXT,
	to_addrs       TEXT,                        -- ', ' separated
	cc_addrs       TEXT,
	subject        TEXT NOT NULL,
	date           TEXT,
	body_text      TEXT,                        -- NULL once purged
	body_from_html INTEGER NOT NULL DEFAULT 0,
	size           INTEGER NOT NULL,
	auto_flags     INTEGER NOT NULL DEFAULT 0,
	auto_submitted TEXT,
	precedence     TEXT,
	list_id        TEXT,
	spf_result     TEXT,                        -- pass, fail, softfail, ... or NULL
	dmarc_result   TEXT,                        -- from a trusted Authentication-Results
	queue_id       TEXT,
	client_addr    TEXT,
	client_name    TEXT,
	client_helo    TEXT,
	warnings       TEXT,                        -- parser warnings, one per line
	bounce_of      INTEGER REFERENCES messages (id),   -- a DSN: the message it reports on
	received_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	UNIQUE (direction, sha256)
);
CREATE INDEX messages_message_id ON messages (message_id);

CREATE TABLE attachments (
	id           INTEGER PRIMARY KEY,
	message_id   INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	position     INTEGER NOT NULL,
	filename     TEXT,
	content_type TEXT NOT NULL,
	disposition  TEXT,
	size         INTEGER NOT NULL,
	sha256       TEXT NOT NULL,
	UNIQUE (message_id, position)
);
CREATE INDEX attachments_sha256 ON attachments (sha256);

CREATE TABLE tickets (
	id                INTEGER PRIMARY KEY,
	number            INTEGER NOT NULL UNIQUE,
	subject           TEXT NOT NULL,
	status            TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'open', 'in-progress', 'waiting', 'resolved', 'closed')),
	priority          TEXT NOT NULL DEFAULT 'normal',
	type              TEXT,
	organization_id   INTEGER REFERENCES organizations (id) ON DELETE SET NULL,
	contact_id        INTEGER REFERENCES end_users (id) ON DELETE SET NULL,
	assigned_user_id  INTEGER REFERENCES users (id) ON DELETE SET NULL,
	created_from      TEXT NOT NULL CHECK (created_from IN ('email', 'rule', 'lead-conversion')),
	source_message_id INTEGER REFERENCES messages (id),
	source_ident      TEXT UNIQUE,              -- one ticket per message (its ident)
	sender_email      TEXT,                     -- for the flood limit
	created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	resolved_at       TEXT
);
CREATE INDEX tickets_sender ON tickets (sender_email, created_at);

CREATE TABLE ticket_subscribers (
	ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (ticket_id, user_id)
);

CREATE TABLE ticket_comments (
	id           INTEGER PRIMARY KEY,
	ticket_id    INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	public       INTEGER NOT NULL DEFAULT 1 CHECK (public IN (0, 1)),
	author_email TEXT,
	author_name  TEXT,
	body         TEXT NOT NULL,
	message_id   INTEGER REFERENCES messages (id),
	created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	UNIQUE (ticket_id, message_id)
);

-- one lead per (message, recipient mailbox): this is the duplicate-delivery rule
CREATE TABLE leads (
	id               INTEGER PRIMARY KEY,
	message_id       INTEGER NOT NULL REFERENCES messages (id),
	recipient        TEXT NOT NULL,
	mailbox_id       INTEGER REFERENCES mailboxes (id) ON DELETE SET NULL,   -- NULL: catch-all
	mailbox_mode     TEXT NOT NULL CHECK (mailbox_mode IN ('always', 'existing', 'never')),
	status           TEXT NOT NULL DEFAULT 'unread' CHECK (status IN ('unread', 'won', 'lost')),
	hidden           INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
	source           TEXT NOT NULL DEFAULT 'email',
	sender_email     TEXT,
	sender_name      TEXT,
	subject          TEXT NOT NULL,
	decided_by       TEXT NOT NULL,
	reason           TEXT,
	suspected_spoof  INTEGER NOT NULL DEFAULT 0 CHECK (suspected_spoof IN (0, 1)),
	automatic        INTEGER NOT NULL DEFAULT 0 CHECK (automatic IN (0, 1)),
	organization_id  INTEGER REFERENCES organizations (id) ON DELETE SET NULL,
	contact_id       INTEGER REFERENCES end_users (id) ON DELETE SET NULL,
	ticket_id        INTEGER REFERENCES tickets (id) ON DELETE SET NULL,
	assigned_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
	reply_to_lead_id INTEGER REFERENCES leads (id) ON DELETE SET NULL,
	stage            TEXT,
	likelihood       INTEGER CHECK (likelihood IS NULL OR likelihood BETWEEN 0 AND 100),
	expected_value   REAL CHECK (expected_value IS NULL OR expected_value >= 0),
	next_step        TEXT,
	notes            TEXT,
	created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	UNIQUE (message_id, recipient)
);
CREATE INDEX leads_status ON leads (status, hidden, created_at);
CREATE INDEX leads_sender ON leads (sender_email);
CREATE INDEX leads_ticket ON leads (ticket_id);

-- events raised by the chain (SPEC §6); notifications fan out from here
CREATE TABLE events (
	id           INTEGER PRIMARY KEY,
	event        TEXT NOT NULL,               -- lead.created, lead.replied, ticket.created_from_email, ...
	lead_id      INTEGER REFERENCES leads (id) ON DELETE CASCADE,
	ticket_id    INTEGER REFERENCES tickets (id) ON DELETE CASCADE,
	sender_email TEXT,
	created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX events_sender ON events (sender_email, created_at);

-- addresses a permanent delivery failure was reported for (SPEC §3 bounces)
CREATE TABLE undeliverable (
	address        TEXT PRIMARY KEY,
	status         TEXT,
	diagnostic     TEXT,
	dsn_message_id INTEGER REFERENCES messages (id),
	at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- messages the chain failed on: kept whole, replayed with `leadgate replay --quarantine`
CREATE TABLE quarantine (
	id            INTEGER PRIMARY KEY,
	sha256        TEXT NOT NULL REFERENCES raw_messages (sha256),
	env_sender    TEXT NOT NULL,
	env_recipients TEXT NOT NULL,              -- space separated
	queue_id      TEXT,
	error         TEXT NOT NULL,
	created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	replayed_at   TEXT,
	replay_result TEXT
);
