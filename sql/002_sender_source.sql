-- 002_sender_source.sql - which part of a message gave a lead its sender
-- (SPEC §3 Reply-To): 'from', 'reply-to' (a web form or list, or a From
-- with no usable address), 'sender' or 'envelope'. NULL on leads recorded
-- before this migration.
ALTER TABLE leads ADD COLUMN sender_source TEXT
	CHECK (sender_source IS NULL OR sender_source IN ('from', 'reply-to', 'sender', 'envelope'));
