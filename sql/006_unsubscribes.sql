-- 006_unsubscribes.sql - the mailer's inbound side (SPEC §11): a log of the
-- unsubscribes that withdrew an end user's consent, by a keyed token in
-- the List-Unsubscribe mailto: (through leadgate-lmtpd or `leadgate ingest`)
-- or the one-click URL (`leadgate unsubscribe TOKEN`). The end user's
-- receive_marketing and marketing_changed_* columns say the current state;
-- this says when and how each change came. A second unsubscribe of the
-- same end user changes nothing and adds no row. No message of an
-- unsubscribe is kept: it is never a lead.
CREATE TABLE unsubscribes (
	id          INTEGER PRIMARY KEY,
	end_user_id INTEGER REFERENCES end_users (id) ON DELETE CASCADE,
	address     TEXT NOT NULL,                     -- the end user's address at the time
	via         TEXT NOT NULL CHECK (via IN ('mailto', 'url')),
	token       TEXT NOT NULL,                     -- the lg-U reference that vouched for it
	message_id  TEXT,                              -- mailto: the unsubscribe mail's Message-ID (no <>)
	at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX unsubscribes_end_user ON unsubscribes (end_user_id, at);
