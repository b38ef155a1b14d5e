-- 0005_report.sql - the reporting service's tables: per-item facts, aggregate
-- cells per region prefix x day (x content type), event dedupe, dirty marks
-- for the report topics, export jobs, region context, and the functions that
-- apply one event exactly once in effect.
--
-- Generations: every fact/cell/dedupe row carries gen. report_state names the
-- current generation (read by the API) and, during a rebuild, the building
-- one. The live consumer applies each event to both; the rebuild consumer
-- replays the topics from the beginning into the building one; the switch
-- is one UPDATE of report_state, then the old generation's rows are deleted.
--
-- Exactly once in effect: each apply function first inserts the event id
-- into report_events (ON CONFLICT DO NOTHING) and does nothing when it was
-- already there; the fact row keeps the item's latest state (ordered by the
-- event's own version/time, never by arrival), and the cells receive the
-- difference between the item's old and new contribution, so late and
-- out-of-order events leave the same totals as in-order ones.
--
-- Days are calendar days in Asia/Jakarta (WIB). The national region is ''.

CREATE TABLE simpul.report_state (
	id            boolean PRIMARY KEY DEFAULT true CONSTRAINT report_state_singleton CHECK (id),
	current_gen   integer NOT NULL,
	building_gen  integer,
	build_started timestamptz,
	switched_at   timestamptz
);
INSERT INTO simpul.report_state (id, current_gen) VALUES (true, 1);

CREATE TABLE simpul.report_events (
	gen      integer NOT NULL,
	event_id uuid NOT NULL,
	CONSTRAINT report_events_pkey PRIMARY KEY (gen, event_id)
);

-- One row per content item: its latest known state.
CREATE TABLE simpul.report_content (
	gen           integer NOT NULL,
	content_id    uuid NOT NULL,
	region_code   text NOT NULL,
	kim_id        uuid,
	type          text NOT NULL,
	submitted_at  timestamptz NOT NULL,
	day           date NOT NULL,
	decision      text NOT NULL DEFAULT 'pending'
	              CONSTRAINT report_content_decision_valid
	              CHECK (decision IN ('pending', 'approved', 'rejected')),
	decision_ver  integer,
	decided_at_ms bigint,
	decision_ms   bigint,
	has_submitted boolean NOT NULL DEFAULT false,
	CONSTRAINT report_content_pkey PRIMARY KEY (gen, content_id)
);
CREATE INDEX report_content_cell_idx
	ON simpul.report_content (gen, day, region_code text_pattern_ops);

-- Aggregates per region prefix ('' = national) x day x content type.
CREATE TABLE simpul.report_cells (
	gen         integer NOT NULL,
	region_code text NOT NULL,
	day         date NOT NULL,
	type        text NOT NULL,
	submitted   bigint NOT NULL DEFAULT 0,
	approved    bigint NOT NULL DEFAULT 0,
	rejected    bigint NOT NULL DEFAULT 0,
	pending     bigint NOT NULL DEFAULT 0,
	decided     bigint NOT NULL DEFAULT 0,
	decision_ms_sum bigint NOT NULL DEFAULT 0,
	CONSTRAINT report_cells_pkey PRIMARY KEY (gen, region_code, day, type)
);
CREATE INDEX report_cells_day_idx ON simpul.report_cells (gen, day);

-- Aggregates per region prefix x day that have no content type:
-- registrations (by registration day, counted under their current status)
-- and notification deliveries (by day, counted under their latest outcome).
CREATE TABLE simpul.report_region_day (
	gen            integer NOT NULL,
	region_code    text NOT NULL,
	day            date NOT NULL,
	kims_pending   bigint NOT NULL DEFAULT 0,
	kims_verified  bigint NOT NULL DEFAULT 0,
	kims_rejected  bigint NOT NULL DEFAULT 0,
	kims_suspended bigint NOT NULL DEFAULT 0,
	notif_delivered bigint NOT NULL DEFAULT 0,
	notif_retrying  bigint NOT NULL DEFAULT 0,
	notif_failed    bigint NOT NULL DEFAULT 0,
	CONSTRAINT report_region_day_pkey PRIMARY KEY (gen, region_code, day)
);

CREATE TABLE simpul.report_kims (
	gen           integer NOT NULL,
	kim_id        uuid NOT NULL,
	name          text NOT NULL DEFAULT '',
	region_code   text NOT NULL,
	status        text NOT NULL
	              CONSTRAINT report_kims_status_valid
	              CHECK (status IN ('pending', 'verified', 'rejected', 'suspended')),
	registered_at timestamptz NOT NULL,
	day           date NOT NULL,
	status_ms     bigint NOT NULL,
	CONSTRAINT report_kims_pkey PRIMARY KEY (gen, kim_id)
);
CREATE INDEX report_kims_region_idx ON simpul.report_kims (gen, region_code text_pattern_ops);

CREATE TABLE simpul.report_publications (
	gen          integer NOT NULL,
	content_id   uuid NOT NULL,
	kim_id       uuid,
	region_code  text NOT NULL,
	published_at timestamptz NOT NULL,
	withdrawn    boolean NOT NULL DEFAULT false,
	event_ms     bigint NOT NULL,
	CONSTRAINT report_publications_pkey PRIMARY KEY (gen, content_id)
);
CREATE INDEX report_publications_kim_idx
	ON simpul.report_publications (gen, kim_id, published_at) WHERE NOT withdrawn;

CREATE TABLE simpul.report_deliveries (
	gen         integer NOT NULL,
	delivery_id text NOT NULL,
	region_code text NOT NULL,
	day         date NOT NULL,
	outcome     text NOT NULL
	            CONSTRAINT report_deliveries_outcome_valid
	            CHECK (outcome IN ('delivered', 'retrying', 'failed')),
	attempts    integer NOT NULL,
	at_ms       bigint NOT NULL,
	CONSTRAINT report_deliveries_pkey PRIMARY KEY (gen, delivery_id)
);

-- What the flusher must (re)publish. Every mark takes a new seq; the
-- flusher deletes a row only if its seq is still the one it read before
-- publishing, so a change made meanwhile is published in the next round.
CREATE SEQUENCE simpul.report_dirty_seq;
CREATE TABLE simpul.report_dirty_cells (
	region_code text NOT NULL,
	day         date NOT NULL,
	seq         bigint NOT NULL DEFAULT nextval('simpul.report_dirty_seq'),
	CONSTRAINT report_dirty_cells_pkey PRIMARY KEY (region_code, day)
);
CREATE INDEX report_dirty_cells_seq_idx ON simpul.report_dirty_cells (seq);
CREATE TABLE simpul.report_dirty_kims (
	kim_id uuid NOT NULL,
	seq    bigint NOT NULL DEFAULT nextval('simpul.report_dirty_seq'),
	CONSTRAINT report_dirty_kims_pkey PRIMARY KEY (kim_id)
);
CREATE INDEX report_dirty_kims_seq_idx ON simpul.report_dirty_kims (seq);

-- Optional context per region (simpulctl regions context DIR).
CREATE TABLE simpul.report_region_context (
	code        text NOT NULL,
	population  bigint,
	area_km2    numeric(14, 3),
	CONSTRAINT report_region_context_pkey PRIMARY KEY (code)
);

-- Background exports.
CREATE TABLE simpul.report_exports (
	id          uuid NOT NULL DEFAULT gen_random_uuid(),
	user_id     uuid NOT NULL,
	region_code text NOT NULL,
	format      text NOT NULL CONSTRAINT report_exports_format_valid
	            CHECK (format IN ('csv', 'ndjson')),
	day_from    date NOT NULL,
	day_to      date NOT NULL,
	status      text NOT NULL DEFAULT 'queued'
	            CONSTRAINT report_exports_status_valid
	            CHECK (status IN ('queued', 'running', 'ready', 'failed')),
	path        text,
	rows        bigint,
	bytes       bigint,
	error       text,
	created_at  timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz,
	CONSTRAINT report_exports_pkey PRIMARY KEY (id)
);
CREATE INDEX report_exports_queued_idx ON simpul.report_exports (created_at)
	WHERE status = 'queued';

-- '' then every prefix of code: '35.07.12.2003' -> {'', 35, 35.07, 35.07.12, 35.07.12.2003}.
CREATE FUNCTION simpul.report_prefixes(code text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN code IS NULL OR code = '' THEN ARRAY['']::text[]
	ELSE ARRAY['']::text[] || ARRAY(
		SELECT pg_catalog.array_to_string((pg_catalog.string_to_array(code, '.'))[1:i], '.')
		FROM pg_catalog.generate_series(1,
			pg_catalog.array_length(pg_catalog.string_to_array(code, '.'), 1)) AS i
		ORDER BY i) END
$$;

CREATE FUNCTION simpul.report_day(ms bigint) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT (pg_catalog.to_timestamp(ms / 1000.0) AT TIME ZONE 'Asia/Jakarta')::date
$$;

-- The generations an event must be applied to: the given one, or (NULL)
-- the current one plus the one being built.
CREATE FUNCTION simpul.report_gens(p_gen integer) RETURNS SETOF integer
LANGUAGE sql STABLE AS $$
	SELECT p_gen WHERE p_gen IS NOT NULL
	UNION ALL
	SELECT g FROM simpul.report_state s,
		LATERAL (VALUES (s.current_gen), (s.building_gen)) AS v(g)
	WHERE p_gen IS NULL AND g IS NOT NULL
$$;

-- Adds a contribution to the cells of every prefix of region, marks them dirty.
CREATE FUNCTION simpul.report_cell_add(g integer, region text, d date, t text,
	sub bigint, app bigint, rej bigint, pend bigint, dcd bigint, dms bigint)
RETURNS void LANGUAGE sql AS $$
	INSERT INTO simpul.report_cells AS c
		(gen, region_code, day, type, submitted, approved, rejected, pending, decided,
		 decision_ms_sum)
	SELECT g, p, d, t, sub, app, rej, pend, dcd, dms
	FROM pg_catalog.unnest(simpul.report_prefixes(region)) AS p
	ON CONFLICT ON CONSTRAINT report_cells_pkey DO UPDATE SET
		submitted = c.submitted + EXCLUDED.submitted,
		approved = c.approved + EXCLUDED.approved,
		rejected = c.rejected + EXCLUDED.rejected,
		pending = c.pending + EXCLUDED.pending,
		decided = c.decided + EXCLUDED.decided,
		decision_ms_sum = c.decision_ms_sum + EXCLUDED.decision_ms_sum;
	INSERT INTO simpul.report_dirty_cells (region_code, day)
	SELECT p, d FROM pg_catalog.unnest(simpul.report_prefixes(region)) AS p
	ON CONFLICT ON CONSTRAINT report_dirty_cells_pkey DO UPDATE SET seq = EXCLUDED.seq;
$$;

CREATE FUNCTION simpul.report_region_day_add(g integer, region text, d date,
	kp bigint, kv bigint, kr bigint, ks bigint, nd bigint, nr bigint, nf bigint)
RETURNS void LANGUAGE sql AS $$
	INSERT INTO simpul.report_region_day AS c
		(gen, region_code, day, kims_pending, kims_verified, kims_rejected, kims_suspended,
		 notif_delivered, notif_retrying, notif_failed)
	SELECT g, p, d, kp, kv, kr, ks, nd, nr, nf
	FROM pg_catalog.unnest(simpul.report_prefixes(region)) AS p
	ON CONFLICT ON CONSTRAINT report_region_day_pkey DO UPDATE SET
		kims_pending = c.kims_pending + EXCLUDED.kims_pending,
		kims_verified = c.kims_verified + EXCLUDED.kims_verified,
		kims_rejected = c.kims_rejected + EXCLUDED.kims_rejected,
		kims_suspended = c.kims_suspended + EXCLUDED.kims_suspended,
		notif_delivered = c.notif_delivered + EXCLUDED.notif_delivered,
		notif_retrying = c.notif_retrying + EXCLUDED.notif_retrying,
		notif_failed = c.notif_failed + EXCLUDED.notif_failed;
	INSERT INTO simpul.report_dirty_cells (region_code, day)
	SELECT p, d FROM pg_catalog.unnest(simpul.report_prefixes(region)) AS p
	ON CONFLICT ON CONSTRAINT report_dirty_cells_pkey DO UPDATE SET seq = EXCLUDED.seq;
$$;

-- True if the event is new for generation g (and records it).
CREATE FUNCTION simpul.report_event_first(g integer, ev uuid) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO simpul.report_events (gen, event_id) VALUES (g, ev)
	ON CONFLICT ON CONSTRAINT report_events_pkey DO NOTHING;
	RETURN FOUND;
END
$$;

-- A content event: submitted (p_decision NULL) or moderated ('approved',
-- 'rejected', or 'review' which is not final). Returns how many
-- generations it changed (0 = duplicate).
CREATE FUNCTION simpul.report_apply_content(p_gen integer, p_event uuid, p_content uuid,
	p_region text, p_kim uuid, p_type text, p_submitted_ms bigint, p_decision text,
	p_version integer, p_decided_ms bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	g integer;
	o simpul.report_content;
	n simpul.report_content;
	applied integer := 0;
	found_old boolean;
	a_sub int; a_app int; a_rej int; a_pend int; a_dec int; a_ms bigint;
	d_app int; d_rej int; d_pend int; d_dec int; d_ms bigint;
BEGIN
	FOR g IN SELECT * FROM simpul.report_gens(p_gen) LOOP
		CONTINUE WHEN NOT simpul.report_event_first(g, p_event);
		applied := applied + 1;
		SELECT * INTO o FROM simpul.report_content
			WHERE gen = g AND content_id = p_content FOR UPDATE;
		found_old := FOUND;
		IF found_old THEN
			n := o;
		ELSE
			-- a decision without its submission time is placed at its own time
			n := ROW(g, p_content, p_region, p_kim, p_type,
				pg_catalog.to_timestamp(COALESCE(p_submitted_ms, p_decided_ms) / 1000.0),
				simpul.report_day(COALESCE(p_submitted_ms, p_decided_ms)), 'pending',
				NULL, NULL, NULL, false);
		END IF;
		IF p_decision IS NULL THEN
			-- the submission is authoritative for where and when
			n.region_code := p_region; n.kim_id := p_kim; n.type := p_type;
			n.submitted_at := pg_catalog.to_timestamp(p_submitted_ms / 1000.0);
			n.day := simpul.report_day(p_submitted_ms);
			n.has_submitted := true;
		ELSIF p_decision IN ('approved', 'rejected') AND (n.decision_ver IS NULL
			OR (p_version, p_decided_ms) > (n.decision_ver, n.decided_at_ms)) THEN
			n.decision := p_decision; n.decision_ver := p_version;
			n.decided_at_ms := p_decided_ms;
		END IF;
		IF n.decided_at_ms IS NOT NULL THEN
			n.decision_ms := GREATEST(0, n.decided_at_ms
				- (EXTRACT(EPOCH FROM n.submitted_at) * 1000)::bigint);
		END IF;
		IF found_old THEN
			UPDATE simpul.report_content SET region_code = n.region_code,
				kim_id = n.kim_id, type = n.type, submitted_at = n.submitted_at,
				day = n.day, decision = n.decision, decision_ver = n.decision_ver,
				decided_at_ms = n.decided_at_ms, decision_ms = n.decision_ms,
				has_submitted = n.has_submitted
			WHERE gen = g AND content_id = p_content;
		ELSE
			INSERT INTO simpul.report_content VALUES (n.*);
		END IF;
		a_app := (n.decision = 'approved')::int; a_rej := (n.decision = 'rejected')::int;
		a_pend := (n.decision = 'pending')::int; a_dec := (n.decision <> 'pending')::int;
		a_ms := COALESCE(CASE WHEN n.decision <> 'pending' THEN n.decision_ms END, 0);
		a_sub := 1;
		IF found_old THEN
			d_app := (o.decision = 'approved')::int; d_rej := (o.decision = 'rejected')::int;
			d_pend := (o.decision = 'pending')::int; d_dec := (o.decision <> 'pending')::int;
			d_ms := COALESCE(CASE WHEN o.decision <> 'pending' THEN o.decision_ms END, 0);
			IF (o.region_code, o.day, o.type) = (n.region_code, n.day, n.type) THEN
				-- same cells: one update with the difference, none if nothing moved
				a_sub := 0; a_app := a_app - d_app; a_rej := a_rej - d_rej;
				a_pend := a_pend - d_pend; a_dec := a_dec - d_dec; a_ms := a_ms - d_ms;
			ELSE
				PERFORM simpul.report_cell_add(g, o.region_code, o.day, o.type, -1,
					-d_app, -d_rej, -d_pend, -d_dec, -d_ms);
			END IF;
		END IF;
		IF (a_sub, a_app, a_rej, a_pend, a_dec, a_ms) <> (0, 0, 0, 0, 0, 0::bigint) THEN
			PERFORM simpul.report_cell_add(g, n.region_code, n.day, n.type, a_sub, a_app,
				a_rej, a_pend, a_dec, a_ms);
		END IF;
	END LOOP;
	RETURN applied;
END
$$;

-- A registry event: the KIM's latest status by event time.
CREATE FUNCTION simpul.report_apply_kim(p_gen integer, p_event uuid, p_kim uuid, p_name text,
	p_region text, p_status text, p_registered_ms bigint, p_event_ms bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	g integer;
	o simpul.report_kims;
	applied integer := 0;
BEGIN
	FOR g IN SELECT * FROM simpul.report_gens(p_gen) LOOP
		CONTINUE WHEN NOT simpul.report_event_first(g, p_event);
		applied := applied + 1;
		INSERT INTO simpul.report_dirty_kims (kim_id) VALUES (p_kim)
		ON CONFLICT ON CONSTRAINT report_dirty_kims_pkey DO UPDATE SET seq = EXCLUDED.seq;
		SELECT * INTO o FROM simpul.report_kims WHERE gen = g AND kim_id = p_kim FOR UPDATE;
		IF FOUND THEN
			CONTINUE WHEN o.status_ms > p_event_ms;
			PERFORM simpul.report_region_day_add(g, o.region_code, o.day,
				-(o.status = 'pending')::int, -(o.status = 'verified')::int,
				-(o.status = 'rejected')::int, -(o.status = 'suspended')::int, 0, 0, 0);
			DELETE FROM simpul.report_kims WHERE gen = g AND kim_id = p_kim;
		END IF;
		INSERT INTO simpul.report_kims VALUES (g, p_kim, p_name, p_region, p_status,
			pg_catalog.to_timestamp(p_registered_ms / 1000.0),
			simpul.report_day(p_registered_ms), p_event_ms);
		PERFORM simpul.report_region_day_add(g, p_region, simpul.report_day(p_registered_ms),
			(p_status = 'pending')::int, (p_status = 'verified')::int,
			(p_status = 'rejected')::int, (p_status = 'suspended')::int, 0, 0, 0);
	END LOOP;
	RETURN applied;
END
$$;

-- A publication or withdrawal: the latest by event time wins.
CREATE FUNCTION simpul.report_apply_published(p_gen integer, p_event uuid, p_content uuid,
	p_kim uuid, p_region text, p_published_ms bigint, p_withdrawn boolean, p_event_ms bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	g integer;
	applied integer := 0;
BEGIN
	FOR g IN SELECT * FROM simpul.report_gens(p_gen) LOOP
		CONTINUE WHEN NOT simpul.report_event_first(g, p_event);
		applied := applied + 1;
		INSERT INTO simpul.report_publications AS p VALUES (g, p_content, p_kim, p_region,
			pg_catalog.to_timestamp(p_published_ms / 1000.0), p_withdrawn, p_event_ms)
		ON CONFLICT ON CONSTRAINT report_publications_pkey DO UPDATE SET
			withdrawn = EXCLUDED.withdrawn, event_ms = EXCLUDED.event_ms,
			published_at = CASE WHEN EXCLUDED.withdrawn THEN p.published_at
			                    ELSE EXCLUDED.published_at END
		WHERE p.event_ms <= EXCLUDED.event_ms;
		IF p_kim IS NOT NULL THEN
			INSERT INTO simpul.report_dirty_kims (kim_id) VALUES (p_kim)
			ON CONFLICT ON CONSTRAINT report_dirty_kims_pkey DO UPDATE SET seq = EXCLUDED.seq;
		END IF;
	END LOOP;
	RETURN applied;
END
$$;

-- A notification delivery record: the latest (attempts, time) wins.
CREATE FUNCTION simpul.report_apply_delivery(p_gen integer, p_event uuid, p_delivery text,
	p_region text, p_outcome text, p_attempts integer, p_at_ms bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	g integer;
	o simpul.report_deliveries;
	applied integer := 0;
BEGIN
	FOR g IN SELECT * FROM simpul.report_gens(p_gen) LOOP
		CONTINUE WHEN NOT simpul.report_event_first(g, p_event);
		applied := applied + 1;
		SELECT * INTO o FROM simpul.report_deliveries
			WHERE gen = g AND delivery_id = p_delivery FOR UPDATE;
		IF FOUND THEN
			CONTINUE WHEN (o.attempts, o.at_ms) > (p_attempts, p_at_ms);
			PERFORM simpul.report_region_day_add(g, o.region_code, o.day, 0, 0, 0, 0,
				-(o.outcome = 'delivered')::int, -(o.outcome = 'retrying')::int,
				-(o.outcome = 'failed')::int);
			DELETE FROM simpul.report_deliveries WHERE gen = g AND delivery_id = p_delivery;
		END IF;
		INSERT INTO simpul.report_deliveries VALUES (g, p_delivery, p_region,
			simpul.report_day(p_at_ms), p_outcome, p_attempts, p_at_ms);
		PERFORM simpul.report_region_day_add(g, p_region, simpul.report_day(p_at_ms), 0, 0, 0,
			0, (p_outcome = 'delivered')::int, (p_outcome = 'retrying')::int,
			(p_outcome = 'failed')::int);
	END LOOP;
	RETURN applied;
END
$$;
