-- 0001_core.sql - Simpul's system of record: regions, KIMs, users, API
-- tokens, content with its status history, idempotency keys and the outbox.
--
-- Every table lives in schema simpul; sessions run with an empty search_path,
-- so every name here is schema-qualified. Applied by db_migrate() in one
-- transaction. Never edit an applied migration: add the next number instead.

CREATE SCHEMA IF NOT EXISTS simpul;

-- Regions by Kemendagri code: 11 (provinsi), 11.01 (kabupaten/kota),
-- 11.01.01 (kecamatan), 11.01.01.2001 (desa/kelurahan). "Everything under
-- 35.07" is code = '35.07' OR code LIKE '35.07.%' (text_pattern_ops index).
CREATE TABLE simpul.regions (
	code        text PRIMARY KEY
	            CONSTRAINT regions_code_format
	            CHECK (code ~ '^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$'),
	name        text NOT NULL
	            CONSTRAINT regions_name_length CHECK (length(name) BETWEEN 1 AND 200),
	level       smallint NOT NULL
	            CONSTRAINT regions_level_range CHECK (level BETWEEN 1 AND 4),
	kind        text
	            CONSTRAINT regions_kind_valid CHECK (kind IN ('provinsi', 'kabupaten', 'kota',
	                                               'kecamatan', 'desa', 'kelurahan')),
	parent_code text REFERENCES simpul.regions (code),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT regions_level_matches_code
		CHECK (level = length(code) - length(replace(code, '.', '')) + 1),
	CONSTRAINT regions_parent_matches_code
		CHECK (CASE WHEN level = 1 THEN parent_code IS NULL
		            ELSE parent_code IS NOT DISTINCT FROM regexp_replace(code, '\.[0-9]+$', '') END),
	CONSTRAINT regions_kind_matches_level
		CHECK (kind IS NULL
		       OR (level = 1 AND kind = 'provinsi')
		       OR (level = 2 AND kind IN ('kabupaten', 'kota'))
		       OR (level = 3 AND kind = 'kecamatan')
		       OR (level = 4 AND kind IN ('desa', 'kelurahan')))
);
CREATE INDEX regions_code_prefix_idx ON simpul.regions (code text_pattern_ops);
CREATE INDEX regions_parent_idx ON simpul.regions (parent_code);

-- KIMs (Komunitas Informasi Masyarakat). registered_by gets its foreign key
-- below, once users exists (users.kim_id points back here).
CREATE TABLE simpul.kims (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name          text NOT NULL
	              CONSTRAINT kims_name_length CHECK (length(btrim(name)) BETWEEN 1 AND 200),
	region_code   text NOT NULL REFERENCES simpul.regions (code),
	decree_number text CONSTRAINT kims_decree_number_length
	              CHECK (length(decree_number) BETWEEN 1 AND 200),
	decree_date   date CONSTRAINT kims_decree_date_range
	              CHECK (decree_date >= DATE '1945-08-17'),
	fields        text[] NOT NULL DEFAULT '{}'
	              CONSTRAINT kims_fields_count CHECK (cardinality(fields) <= 50),
	contacts      jsonb NOT NULL DEFAULT '{}'
	              CONSTRAINT kims_contacts_object CHECK (jsonb_typeof(contacts) = 'object'),
	members       jsonb NOT NULL DEFAULT '[]'
	              CONSTRAINT kims_members_array CHECK (jsonb_typeof(members) = 'array'),
	status        text NOT NULL DEFAULT 'pending'
	              CONSTRAINT kims_status_valid
	              CHECK (status IN ('pending', 'verified', 'rejected', 'suspended')),
	registered_by uuid,
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	version       integer NOT NULL DEFAULT 1 CONSTRAINT kims_version_positive CHECK (version >= 1)
);
CREATE INDEX kims_region_prefix_idx ON simpul.kims (region_code text_pattern_ops);
CREATE INDEX kims_status_created_idx ON simpul.kims (status, created_at);

-- Users: citizens, KIM members and admins, moderators (scoped to the region
-- subtree region_prefix), analysts, admins and integration accounts.
CREATE TABLE simpul.users (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name          text NOT NULL
	              CONSTRAINT users_name_length CHECK (length(btrim(name)) BETWEEN 1 AND 200),
	email         text CONSTRAINT users_email_format
	              CHECK (length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
	role          text NOT NULL
	              CONSTRAINT users_role_valid
	              CHECK (role IN ('citizen', 'kim_member', 'kim_admin', 'moderator',
	                              'analyst', 'admin', 'integration')),
	region_prefix text REFERENCES simpul.regions (code),
	kim_id        uuid REFERENCES simpul.kims (id),
	created_at    timestamptz NOT NULL DEFAULT now(),
	disabled_at   timestamptz,
	CONSTRAINT users_moderator_has_region
		CHECK (role <> 'moderator' OR region_prefix IS NOT NULL),
	CONSTRAINT users_kim_role_has_kim
		CHECK (role NOT IN ('kim_member', 'kim_admin') OR kim_id IS NOT NULL)
);
-- One account per address, whatever its case.
CREATE UNIQUE INDEX users_email_key ON simpul.users (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX users_kim_idx ON simpul.users (kim_id) WHERE kim_id IS NOT NULL;

ALTER TABLE simpul.kims ADD CONSTRAINT kims_registered_by_fkey
	FOREIGN KEY (registered_by) REFERENCES simpul.users (id);

-- API tokens "simpul_<43 base64url chars>": only SHA-256 of the whole token
-- string is stored; the token itself is shown once.
CREATE TABLE simpul.api_tokens (
	id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id    uuid NOT NULL REFERENCES simpul.users (id) ON DELETE CASCADE,
	token_hash bytea NOT NULL
	           CONSTRAINT api_tokens_hash_length CHECK (length(token_hash) = 32),
	label      text CONSTRAINT api_tokens_label_length CHECK (length(label) <= 200),
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz,
	revoked_at timestamptz,
	CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX api_tokens_user_idx ON simpul.api_tokens (user_id);

-- Content: what KIMs, citizens and other systems submit.
CREATE TABLE simpul.content (
	id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	version        integer NOT NULL DEFAULT 1
	               CONSTRAINT content_version_positive CHECK (version >= 1),
	type           text NOT NULL
	               CONSTRAINT content_type_valid
	               CHECK (type IN ('berita', 'kegiatan', 'potensi', 'umkm', 'aspirasi',
	                               'usulan', 'diseminasi')),
	title          text NOT NULL
	               CONSTRAINT content_title_length CHECK (length(title) BETWEEN 1 AND 1000),
	body           text NOT NULL
	               CONSTRAINT content_body_length CHECK (length(body) <= 1000000),
	region_code    text NOT NULL REFERENCES simpul.regions (code),
	kim_id         uuid REFERENCES simpul.kims (id),
	author_id      uuid REFERENCES simpul.users (id),
	author_name    text CONSTRAINT content_author_name_length
	               CHECK (length(author_name) <= 200),
	author_contact text CONSTRAINT content_author_contact_length
	               CHECK (length(author_contact) <= 200),
	tags           text[] NOT NULL DEFAULT '{}'
	               CONSTRAINT content_tags_count CHECK (cardinality(tags) <= 100),
	media_urls     text[] NOT NULL DEFAULT '{}'
	               CONSTRAINT content_media_urls_count CHECK (cardinality(media_urls) <= 100),
	source         text NOT NULL
	               CONSTRAINT content_source_valid CHECK (source IN ('api', 'aspirasi', 'intake')),
	status         text NOT NULL DEFAULT 'submitted'
	               CONSTRAINT content_status_valid
	               CHECK (status IN ('submitted', 'approved', 'rejected', 'review',
	                                 'published', 'withdrawn')),
	created_at     timestamptz NOT NULL DEFAULT now(),
	updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX content_region_prefix_idx ON simpul.content (region_code text_pattern_ops);
CREATE INDEX content_kim_created_idx ON simpul.content (kim_id, created_at)
	WHERE kim_id IS NOT NULL;
CREATE INDEX content_status_created_idx ON simpul.content (status, created_at);
CREATE INDEX content_author_created_idx ON simpul.content (author_id, created_at)
	WHERE author_id IS NOT NULL;

-- Every status a content item went through, in order (seq 1 = submitted).
CREATE TABLE simpul.content_status_history (
	content_id uuid NOT NULL REFERENCES simpul.content (id) ON DELETE CASCADE,
	seq        integer NOT NULL CONSTRAINT content_status_history_seq_positive CHECK (seq >= 1),
	status     text NOT NULL
	           CONSTRAINT content_status_history_status_valid
	           CHECK (status IN ('submitted', 'approved', 'rejected', 'review',
	                             'published', 'withdrawn')),
	actor_id   uuid REFERENCES simpul.users (id),
	reason     text CONSTRAINT content_status_history_reason_length
	           CHECK (length(reason) <= 2000),
	at         timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (content_id, seq)
);

-- Idempotency-Key records: a retry with the same (scope, key) and the same
-- request hash returns resource_id; a different hash is a conflict. scope is
-- a user id, an integration id or "ip:<addr>". Pruned by created_at.
CREATE TABLE simpul.idempotency_keys (
	scope         text NOT NULL
	              CONSTRAINT idempotency_keys_scope_length CHECK (length(scope) BETWEEN 1 AND 200),
	key           text NOT NULL
	              CONSTRAINT idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255),
	request_hash  bytea NOT NULL
	              CONSTRAINT idempotency_keys_hash_length CHECK (length(request_hash) = 32),
	resource_type text NOT NULL
	              CONSTRAINT idempotency_keys_resource_type_valid
	              CHECK (resource_type IN ('content', 'kim')),
	resource_id   uuid NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON simpul.idempotency_keys (created_at);

-- Transactional outbox: written in the same transaction as the row it
-- announces, published by the relay, marked sent on the delivery report.
-- headers holds the simpul-* Kafka headers as a JSON object of strings.
CREATE TABLE simpul.outbox (
	id         bigserial PRIMARY KEY,
	topic      text NOT NULL CONSTRAINT outbox_topic_format CHECK (topic ~ '^[a-z0-9._-]{1,249}$'),
	msg_key    text,
	payload    bytea NOT NULL,
	headers    jsonb NOT NULL DEFAULT '{}'
	           CONSTRAINT outbox_headers_object CHECK (jsonb_typeof(headers) = 'object'),
	created_at timestamptz NOT NULL DEFAULT now(),
	sent_at    timestamptz
);
CREATE INDEX outbox_unsent_idx ON simpul.outbox (id) WHERE sent_at IS NULL;
