-- 0006_ingest_perf: storage and constraint settings for the ingest hot path
-- (one group commit writes content, its history, idempotency keys and outbox
-- rows). Nothing here changes what is accepted or stored, only how cheaply.
--
-- Measured with perf on the committer's backend under bench/ingest/run:
-- pglz compression of bodies and payloads (~8% of its CPU) and the regular
-- expression of outbox_topic_format (~10%: the bounded repetition {1,249}
-- expands into a large automaton run once per outbox row).

-- Bodies are kept for good: compress them, but with lz4 (several times
-- faster than pglz at a similar ratio for news text). Only new values are
-- affected; old ones stay readable as they are.
ALTER TABLE simpul.content ALTER COLUMN body SET COMPRESSION lz4;

-- Outbox payloads live minutes (published, then pruned): compressing them
-- costs CPU twice (the committer's insert, the relay's read) and saves
-- nothing lasting. EXTERNAL = out of line when large, never compressed.
ALTER TABLE simpul.outbox ALTER COLUMN payload SET STORAGE EXTERNAL;

-- The same rule as 0001's '^[a-z0-9._-]{1,249}$', without a regex: 1 to 249
-- characters, every one of them in [a-z0-9._-] (ltrim removes exactly those;
-- what is left must be nothing).
ALTER TABLE simpul.outbox DROP CONSTRAINT outbox_topic_format;
ALTER TABLE simpul.outbox ADD CONSTRAINT outbox_topic_format
	CHECK (length(topic) BETWEEN 1 AND 249
	       AND ltrim(topic, 'abcdefghijklmnopqrstuvwxyz0123456789._-') = '');
