-- 0004_notify.sql - the notification service: subscriptions, their match
-- keys (the index an event finds its subscribers through), durable
-- deliveries keyed (event, subscription), the attempt log, dead letters and
-- diseminasi fan-out jobs. Owned by services/notify.

-- One subscription: an owner's channel (webhook URL or e-mail address),
-- filters and delivery mode. realm isolates instances sharing a database
-- (tests run beside the stack's service): an instance matches and delivers
-- only its own realm ('' in production).
CREATE TABLE simpul.notify_subscriptions (
	id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	realm             text NOT NULL DEFAULT ''
	                  CONSTRAINT notify_subscriptions_realm_length CHECK (length(realm) <= 64),
	owner_id          uuid NOT NULL REFERENCES simpul.users (id) ON DELETE CASCADE,
	channel           text NOT NULL
	                  CONSTRAINT notify_subscriptions_channel_valid
	                  CHECK (channel IN ('webhook', 'email')),
	target            text NOT NULL
	                  CONSTRAINT notify_subscriptions_target_length
	                  CHECK (length(target) BETWEEN 3 AND 2000),
	kinds             text[] NOT NULL
	                  CONSTRAINT notify_subscriptions_kinds_valid
	                  CHECK (cardinality(kinds) BETWEEN 1 AND 5 AND kinds <@ ARRAY[
	                         'review.awaiting', 'content.decided', 'registration.decided',
	                         'content.published', 'diseminasi']::text[]),
	region_prefix     text NOT NULL DEFAULT ''
	                  CONSTRAINT notify_subscriptions_region_format
	                  CHECK (region_prefix ~ '^([0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?)?$'),
	content_type      text
	                  CONSTRAINT notify_subscriptions_type_valid
	                  CHECK (content_type IN ('berita', 'kegiatan', 'potensi', 'umkm', 'aspirasi',
	                                          'usulan', 'diseminasi')),
	kim_id            uuid,
	keywords          text[] NOT NULL DEFAULT '{}'
	                  CONSTRAINT notify_subscriptions_keywords_count
	                  CHECK (cardinality(keywords) <= 20),
	mode              text NOT NULL DEFAULT 'immediate'
	                  CONSTRAINT notify_subscriptions_mode_valid
	                  CHECK (mode IN ('immediate', 'hourly', 'daily')),
	digest_hour       smallint NOT NULL DEFAULT 7
	                  CONSTRAINT notify_subscriptions_hour_range CHECK (digest_hour BETWEEN 0 AND 23),
	tz                text NOT NULL DEFAULT 'WIB'
	                  CONSTRAINT notify_subscriptions_tz_valid CHECK (tz IN ('WIB', 'WITA', 'WIT')),
	secret            text NOT NULL
	                  CONSTRAINT notify_subscriptions_secret_length CHECK (length(secret) <= 200),
	prev_secret       text,
	prev_secret_until timestamptz,
	flagged_at        timestamptz,
	flag_reason       text CONSTRAINT notify_subscriptions_flag_reason_length
	                  CHECK (length(flag_reason) <= 500),
	created_at        timestamptz NOT NULL DEFAULT now(),
	updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notify_subscriptions_owner_idx ON simpul.notify_subscriptions (owner_id, created_at);

-- The match index: one row per (subscription, kind). scope is a region
-- prefix ('' national, '35', '35.07', ...) for region kinds, 'user:<uuid>'
-- or 'kim:<uuid>' for "my content / my registration". An event looks up
-- (realm, kind, scope = ANY(the ancestors of its region + its author/KIM
-- keys)), i.e. at most ~7 index probes whatever the number of
-- subscriptions; diseminasi adds a prefix range (scope LIKE '35.%'), which
-- the "C" collation lets the same btree serve.
CREATE TABLE simpul.notify_sub_match (
	realm           text NOT NULL,
	kind            text NOT NULL,
	scope           text COLLATE "C" NOT NULL,
	content_type    text,
	subscription_id uuid NOT NULL REFERENCES simpul.notify_subscriptions (id) ON DELETE CASCADE,
	CONSTRAINT notify_sub_match_pkey PRIMARY KEY (realm, kind, scope, subscription_id)
);
CREATE INDEX notify_sub_match_sub_idx ON simpul.notify_sub_match (subscription_id);

-- One notification for one subscription. (event_id, subscription_id) is
-- unique: a replayed event never creates a second delivery. status:
--   held     waiting for its digest window (due_at), then merged
--   merged   folded into a digest delivery (digest_id)
--   pending  to be sent at next_attempt_at (workers claim with SKIP LOCKED
--            and push next_attempt_at forward as a lease)
--   delivered, failed (dead-lettered after the last try)
-- lane 0 = ordinary, 1 = bulk fan-out (own workers, never holds up lane 0).
CREATE TABLE simpul.notify_deliveries (
	id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	event_id        uuid NOT NULL,
	subscription_id uuid NOT NULL REFERENCES simpul.notify_subscriptions (id) ON DELETE CASCADE,
	realm           text NOT NULL,
	kind            text NOT NULL,
	region_code     text NOT NULL DEFAULT '',
	payload         jsonb NOT NULL,
	status          text NOT NULL
	                CONSTRAINT notify_deliveries_status_valid
	                CHECK (status IN ('held', 'merged', 'pending', 'delivered', 'failed')),
	lane            smallint NOT NULL DEFAULT 0
	                CONSTRAINT notify_deliveries_lane_valid CHECK (lane IN (0, 1)),
	attempts        integer NOT NULL DEFAULT 0,
	due_at          timestamptz,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	last_error      text CONSTRAINT notify_deliveries_error_length CHECK (length(last_error) <= 500),
	last_status     integer,
	digest_id       uuid,
	created_at      timestamptz NOT NULL DEFAULT now(),
	delivered_at    timestamptz,
	CONSTRAINT notify_deliveries_event_sub_key UNIQUE (event_id, subscription_id)
);
CREATE INDEX notify_deliveries_claim_idx ON simpul.notify_deliveries (realm, lane, next_attempt_at)
	WHERE status = 'pending';
CREATE INDEX notify_deliveries_held_idx ON simpul.notify_deliveries (realm, due_at)
	WHERE status = 'held';
CREATE INDEX notify_deliveries_sub_idx ON simpul.notify_deliveries (subscription_id, created_at);

-- Every send attempt: the delivery log.
CREATE TABLE simpul.notify_attempts (
	delivery_id uuid NOT NULL REFERENCES simpul.notify_deliveries (id) ON DELETE CASCADE,
	attempt     integer NOT NULL,
	at          timestamptz NOT NULL DEFAULT now(),
	http_status integer,
	error       text CONSTRAINT notify_attempts_error_length CHECK (length(error) <= 500),
	duration_ms integer,
	CONSTRAINT notify_attempts_pkey PRIMARY KEY (delivery_id, attempt)
);

-- Deliveries that exhausted their retries.
CREATE TABLE simpul.notify_dead_letters (
	delivery_id     uuid PRIMARY KEY REFERENCES simpul.notify_deliveries (id) ON DELETE CASCADE,
	subscription_id uuid NOT NULL,
	attempts        integer NOT NULL,
	last_error      text,
	created_at      timestamptz NOT NULL DEFAULT now()
);

-- Diseminasi fan-out jobs: the consumer records the job (cheap, in the
-- event's handler); a fan-out worker inserts the deliveries in batches,
-- resuming from (cursor_scope, cursor_sub) after a restart.
CREATE TABLE simpul.notify_fanout_jobs (
	event_id     uuid NOT NULL,
	realm        text NOT NULL,
	region_code  text NOT NULL,
	content_type text,
	payload      jsonb NOT NULL,
	cursor_scope text COLLATE "C" NOT NULL DEFAULT '',
	cursor_sub   uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
	inserted     bigint NOT NULL DEFAULT 0,
	done_at      timestamptz,
	created_at   timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT notify_fanout_jobs_pkey PRIMARY KEY (event_id, realm)
);
CREATE INDEX notify_fanout_jobs_open_idx ON simpul.notify_fanout_jobs (realm, created_at)
	WHERE done_at IS NULL;
