-- 0003_search.sql - the search service's store: one row per published
-- content item (the text as published, personal data already masked), its
-- tsvector built by libs/text in the service (stems, 'simple' lexemes), a
-- SimHash for near-duplicates, and the state of its ContentIndexed event.
--
-- Withdrawn items stay as tombstones (withdrawn = true, text and tsvector
-- emptied) so that a replayed older version can never bring them back.
-- seq changes on every applied change: the announcer publishes
-- ContentIndexed for rows with announced_seq < seq (a state-based outbox),
-- and `simpulctl search reindex` uses it to catch up with concurrent writes.

CREATE SEQUENCE simpul.search_docs_seq;

CREATE TABLE simpul.search_docs (
	id            uuid NOT NULL,
	version       integer NOT NULL
	              CONSTRAINT search_docs_version_positive CHECK (version >= 1),
	withdrawn     boolean NOT NULL DEFAULT false,
	type          text NOT NULL
	              CONSTRAINT search_docs_type_valid
	              CHECK (type IN ('berita', 'kegiatan', 'potensi', 'umkm', 'aspirasi',
	                              'usulan', 'diseminasi')),
	title         text NOT NULL,
	body          text NOT NULL,
	region_code   text NOT NULL
	              CONSTRAINT search_docs_region_format
	              CHECK (region_code ~ '^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$'),
	kim_id        uuid,
	tags          text[] NOT NULL DEFAULT '{}',
	published_at  timestamptz NOT NULL,
	tsv           tsvector NOT NULL,
	simhash       bigint NOT NULL,
	-- 16-bit bands of the SimHash: two fingerprints within 3 bits share a band.
	sh0           integer GENERATED ALWAYS AS ((simhash & 65535)::integer) STORED,
	sh1           integer GENERATED ALWAYS AS (((simhash >> 16) & 65535)::integer) STORED,
	sh2           integer GENERATED ALWAYS AS (((simhash >> 32) & 65535)::integer) STORED,
	sh3           integer GENERATED ALWAYS AS (((simhash >> 48) & 65535)::integer) STORED,
	seq           bigint NOT NULL DEFAULT nextval('simpul.search_docs_seq'),
	indexed_at    timestamptz NOT NULL DEFAULT now(),
	announced_seq bigint NOT NULL DEFAULT 0,
	CONSTRAINT search_docs_pkey PRIMARY KEY (id)
);
CREATE INDEX search_docs_tsv_idx ON simpul.search_docs USING gin (tsv);
CREATE INDEX search_docs_region_idx ON simpul.search_docs (region_code text_pattern_ops);
CREATE INDEX search_docs_published_idx ON simpul.search_docs (published_at DESC, id);
CREATE INDEX search_docs_tags_idx ON simpul.search_docs USING gin (tags);
CREATE INDEX search_docs_kim_idx ON simpul.search_docs (kim_id) WHERE kim_id IS NOT NULL;
CREATE INDEX search_docs_seq_idx ON simpul.search_docs (seq);
CREATE INDEX search_docs_unannounced_idx ON simpul.search_docs (seq)
	WHERE announced_seq < seq;
CREATE INDEX search_docs_sh0_idx ON simpul.search_docs (sh0);
CREATE INDEX search_docs_sh1_idx ON simpul.search_docs (sh1);
CREATE INDEX search_docs_sh2_idx ON simpul.search_docs (sh2);
CREATE INDEX search_docs_sh3_idx ON simpul.search_docs (sh3);

-- One row: the generation of the live index (bumped by every reindex; index
-- names of generation N > 0 end in _gN).
CREATE TABLE simpul.search_state (
	singleton    boolean NOT NULL DEFAULT true
	             CONSTRAINT search_state_singleton CHECK (singleton),
	generation   bigint NOT NULL DEFAULT 0,
	reindexed_at timestamptz,
	CONSTRAINT search_state_pkey PRIMARY KEY (singleton)
);
INSERT INTO simpul.search_state (singleton) VALUES (true);
