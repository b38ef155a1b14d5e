-- 0002_moderation.sql - the moderation service's tables: items under
-- moderation (content versions and KIM registrations) with their automatic
-- decision and review state, the signals that fired, an append-only audit
-- log, thresholds per region prefix, the Bayes classifier's counts, KIM
-- national ids and the moderation outbox.
--
-- Owned by services/moderate. Every name is schema-qualified.

-- One row per moderated thing: a content version (kind 'content', key
-- content id + version) or a KIM registration (kind 'kim', key KIM id +
-- KIM version). The primary key makes the automatic decision idempotent.
CREATE TABLE simpul.moderation_items (
	item_id          uuid NOT NULL,
	version          integer NOT NULL
	                 CONSTRAINT moderation_items_version_positive CHECK (version >= 1),
	kind             text NOT NULL
	                 CONSTRAINT moderation_items_kind_valid CHECK (kind IN ('content', 'kim')),
	region_code      text NOT NULL
	                 CONSTRAINT moderation_items_region_length CHECK (length(region_code) <= 32),
	content_type     text,
	kim_id           uuid,
	author_id        uuid,
	title            text NOT NULL DEFAULT '',
	score            double precision NOT NULL,
	auto_decision    text NOT NULL
	                 CONSTRAINT moderation_items_auto_valid
	                 CHECK (auto_decision IN ('approve', 'review', 'reject')),
	state            text NOT NULL
	                 CONSTRAINT moderation_items_state_valid
	                 CHECK (state IN ('approved', 'rejected', 'review')),
	signal_names     text[] NOT NULL DEFAULT '{}',
	payload          bytea NOT NULL, -- packed Content (PII masked) or Kim
	submitted_at     timestamptz NOT NULL,
	created_at       timestamptz NOT NULL DEFAULT now(),
	decided_at       timestamptz,
	decided_by       text,
	reason_code      text CONSTRAINT moderation_items_reason_length
	                 CHECK (length(reason_code) <= 64),
	note             text CONSTRAINT moderation_items_note_length CHECK (length(note) <= 2000),
	claimed_by       uuid,
	claim_expires_at timestamptz,
	appeal_state     text CONSTRAINT moderation_items_appeal_valid
	                 CHECK (appeal_state IN ('pending', 'decided')),
	appealed_at      timestamptz,
	appeal_note      text CONSTRAINT moderation_items_appeal_note_length
	                 CHECK (length(appeal_note) <= 2000),
	escalated        boolean NOT NULL DEFAULT false,
	excluded_moderator uuid, -- who decided before the appeal (may not decide it)
	CONSTRAINT moderation_items_pkey PRIMARY KEY (item_id, version)
);
CREATE INDEX moderation_items_queue_idx ON simpul.moderation_items
	(region_code text_pattern_ops, score DESC, submitted_at) WHERE state = 'review';
CREATE INDEX moderation_items_signals_idx ON simpul.moderation_items USING gin (signal_names)
	WHERE state = 'review';

-- Every signal that fired for an item.
CREATE TABLE simpul.moderation_signals (
	item_id  uuid NOT NULL,
	version  integer NOT NULL,
	name     text NOT NULL CONSTRAINT moderation_signals_name_length CHECK (length(name) <= 64),
	score    double precision NOT NULL,
	detail   text NOT NULL DEFAULT '',
	spans    jsonb NOT NULL DEFAULT '[]'
	         CONSTRAINT moderation_signals_spans_array CHECK (jsonb_typeof(spans) = 'array'),
	CONSTRAINT moderation_signals_pkey PRIMARY KEY (item_id, version, name),
	CONSTRAINT moderation_signals_item_fkey FOREIGN KEY (item_id, version)
		REFERENCES simpul.moderation_items (item_id, version) ON DELETE CASCADE
);

-- Append-only audit log of every automatic and human action.
CREATE TABLE simpul.moderation_audit (
	id          bigserial PRIMARY KEY,
	item_id     uuid NOT NULL,
	version     integer NOT NULL,
	kind        text NOT NULL,
	action      text NOT NULL
	            CONSTRAINT moderation_audit_action_valid
	            CHECK (action IN ('auto_approve', 'auto_review', 'auto_reject', 'claim',
	                              'release', 'approve', 'reject', 'appeal', 'verify',
	                              'reject_registration')),
	actor       text NOT NULL, -- 'auto' or a user id
	region_code text NOT NULL,
	score       double precision,
	reason_code text,
	note        text,
	at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderation_audit_item_idx ON simpul.moderation_audit (item_id, id);
CREATE INDEX moderation_audit_actor_idx ON simpul.moderation_audit (actor, id);
CREATE INDEX moderation_audit_region_idx ON simpul.moderation_audit
	(region_code text_pattern_ops, id);

CREATE FUNCTION simpul.moderation_audit_append_only() RETURNS trigger
	LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'moderation_audit is append-only' USING ERRCODE = '23514';
END $$;
CREATE TRIGGER moderation_audit_no_change BEFORE UPDATE OR DELETE ON simpul.moderation_audit
	FOR EACH ROW EXECUTE FUNCTION simpul.moderation_audit_append_only();

-- Thresholds: the longest region_prefix covering an item's region wins;
-- '' is the national default. Re-read by the service without a restart.
CREATE TABLE simpul.moderation_thresholds (
	region_prefix text PRIMARY KEY
	              CONSTRAINT moderation_thresholds_prefix_format
	              CHECK (region_prefix ~ '^([0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?)?$'),
	review_at     double precision NOT NULL,
	reject_at     double precision NOT NULL,
	updated_at    timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT moderation_thresholds_order CHECK (review_at <= reject_at)
);
INSERT INTO simpul.moderation_thresholds (region_prefix, review_at, reject_at)
	VALUES ('', 5, 15);

-- Naive Bayes counts: per feature, in how many learned 'bad' (rejected) and
-- 'good' (approved) documents it occurred; the document totals are the row
-- with feature ''. learned holds the keys (event ids) already learned.
CREATE TABLE simpul.moderation_bayes (
	feature text PRIMARY KEY
	        CONSTRAINT moderation_bayes_feature_length CHECK (length(feature) <= 200),
	bad     bigint NOT NULL DEFAULT 0,
	good    bigint NOT NULL DEFAULT 0
);
INSERT INTO simpul.moderation_bayes (feature, bad, good) VALUES ('', 0, 0);
CREATE TABLE simpul.moderation_bayes_learned (
	learn_key  text PRIMARY KEY
	           CONSTRAINT moderation_bayes_learned_key_length CHECK (length(learn_key) <= 200),
	learned_at timestamptz NOT NULL DEFAULT now()
);

-- National KIM numbers, given when a moderator verifies a registration.
CREATE SEQUENCE simpul.kim_national_seq;
CREATE TABLE simpul.kim_national_ids (
	kim_id      uuid PRIMARY KEY REFERENCES simpul.kims (id),
	national_id text NOT NULL CONSTRAINT kim_national_ids_national_id_key UNIQUE,
	issued_by   uuid,
	issued_at   timestamptz NOT NULL DEFAULT now()
);

-- The moderation service's own outbox (same shape as simpul.outbox, which
-- ingest's relay publishes), drained by services/moderate/relay.c.
CREATE TABLE simpul.moderation_outbox (
	id         bigserial PRIMARY KEY,
	topic      text NOT NULL
	           CONSTRAINT moderation_outbox_topic_format CHECK (topic ~ '^[a-z0-9._-]{1,249}$'),
	msg_key    text,
	payload    bytea NOT NULL,
	headers    jsonb NOT NULL DEFAULT '{}'
	           CONSTRAINT moderation_outbox_headers_object CHECK (jsonb_typeof(headers) = 'object'),
	created_at timestamptz NOT NULL DEFAULT now(),
	sent_at    timestamptz
);
CREATE INDEX moderation_outbox_unsent_idx ON simpul.moderation_outbox (id) WHERE sent_at IS NULL;
