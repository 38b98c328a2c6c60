-- 0001_cluster: the render cluster's job store.
-- Every state rule is a CHECK constraint; all timestamps are written by the store from its clock (no now()).
-- Applied by Migrator inside a transaction: no BEGIN/COMMIT here.

CREATE TABLE batches (
    name        text PRIMARY KEY CHECK (name <> ''),
    created_at  timestamptz NOT NULL
);

CREATE TABLE jobs (
    id                bigserial PRIMARY KEY,
    batch             text REFERENCES batches (name),
    model             text NOT NULL CHECK (model <> ''),
    request           jsonb NOT NULL CHECK (jsonb_typeof(request) = 'object'),
    init_image        bytea,
    priority          integer NOT NULL DEFAULT 0,
    state             text NOT NULL DEFAULT 'queued'
                      CONSTRAINT jobs_state_known CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempt           integer NOT NULL DEFAULT 0 CONSTRAINT jobs_attempt_nonnegative CHECK (attempt >= 0),
    max_attempts      integer NOT NULL DEFAULT 3 CONSTRAINT jobs_max_attempts_positive CHECK (max_attempts >= 1),
    lease_owner       text CHECK (lease_owner <> ''),
    lease_expires_at  timestamptz,
    workers           text[] NOT NULL DEFAULT '{}',
    step              integer NOT NULL DEFAULT 0,
    steps             integer NOT NULL CONSTRAINT jobs_steps_positive CHECK (steps >= 1),
    cancel_requested  boolean NOT NULL DEFAULT false,
    error             text,
    errors            jsonb NOT NULL DEFAULT '[]' CONSTRAINT jobs_errors_array CHECK (jsonb_typeof(errors) = 'array'),
    available_at      timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    started_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL,

    CONSTRAINT jobs_attempt_within_max CHECK (attempt <= max_attempts),
    -- A lease (owner and expiry) exists exactly while the job runs.
    CONSTRAINT jobs_lease_iff_running
        CHECK ((state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CONSTRAINT jobs_lease_complete CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL)),
    -- Running (or having run to success/failure) means at least one attempt was claimed.
    CONSTRAINT jobs_ran_has_attempt CHECK (state NOT IN ('running', 'succeeded', 'failed') OR attempt >= 1),
    CONSTRAINT jobs_running_started CHECK (state <> 'running' OR started_at IS NOT NULL),
    CONSTRAINT jobs_running_has_workers CHECK (state <> 'running' OR cardinality(workers) >= 1),
    CONSTRAINT jobs_step_within_steps CHECK (step >= 0 AND step <= steps),
    CONSTRAINT jobs_failed_has_error CHECK (state <> 'failed' OR error IS NOT NULL),
    -- Terminal states, and only they, carry finished_at.
    CONSTRAINT jobs_finished_iff_terminal
        CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    -- A cancel request only makes sense for a running job (queued jobs are cancelled at once).
    CONSTRAINT jobs_queued_not_cancel_requested CHECK (state <> 'queued' OR NOT cancel_requested),
    -- A queued job always has an attempt left (the claim increments attempt).
    CONSTRAINT jobs_queued_has_attempt_left CHECK (state <> 'queued' OR attempt < max_attempts)
);

-- The claim walks queued jobs in (priority DESC, id) order and filters available_at and model.
CREATE INDEX jobs_claim_idx ON jobs (priority DESC, id) INCLUDE (available_at, model) WHERE state = 'queued';
-- The rescue finds running jobs whose lease expired.
CREATE INDEX jobs_lease_expiry_idx ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_batch_idx ON jobs (batch);
CREATE INDEX jobs_state_idx ON jobs (state, id);
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE job_events (
    id      bigserial PRIMARY KEY,
    job_id  bigint NOT NULL REFERENCES jobs (id),
    at      timestamptz NOT NULL,
    attempt integer NOT NULL CHECK (attempt >= 0),
    kind    text NOT NULL CONSTRAINT job_events_kind_known CHECK (kind IN (
                'submitted', 'claimed', 'checkpointed', 'succeeded', 'failed', 'retry-scheduled', 'rescued',
                'cancel-requested', 'cancelled', 'released', 'retried-by-admin')),
    worker  text,
    detail  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object')
);
CREATE INDEX job_events_job_idx ON job_events (job_id, id);

-- job_events is append-only.
CREATE FUNCTION hidiff_job_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'job_events is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER job_events_no_update_delete BEFORE UPDATE OR DELETE ON job_events
    FOR EACH ROW EXECUTE FUNCTION hidiff_job_events_append_only();
CREATE TRIGGER job_events_no_truncate BEFORE TRUNCATE ON job_events
    FOR EACH STATEMENT EXECUTE FUNCTION hidiff_job_events_append_only();

CREATE TABLE workers (
    name               text PRIMARY KEY CHECK (name <> ''),
    address            text NOT NULL,
    cores              integer NOT NULL CHECK (cores >= 1),
    memory_bytes       bigint NOT NULL CHECK (memory_bytes >= 0),
    models             text[] NOT NULL DEFAULT '{}',
    version            text NOT NULL,
    kernels            text NOT NULL,
    state              text NOT NULL CONSTRAINT workers_state_known CHECK (state IN ('idle', 'busy', 'draining', 'offline')),
    coordinator        text,
    current_job        bigint,
    step               integer CHECK (step >= 0),
    steps_per_second   double precision CHECK (steps_per_second >= 0),
    last_heartbeat     timestamptz NOT NULL,
    registered_at      timestamptz NOT NULL,
    -- Only a busy (or draining, finishing its job) worker has a current job; a step needs a job.
    CONSTRAINT workers_job_only_when_working CHECK (current_job IS NULL OR state IN ('busy', 'draining')),
    CONSTRAINT workers_step_needs_job CHECK (step IS NULL OR current_job IS NOT NULL)
);

-- Latest checkpoint per job (upserted).
CREATE TABLE checkpoints (
    job_id      bigint PRIMARY KEY REFERENCES jobs (id),
    attempt     integer NOT NULL CHECK (attempt >= 1),
    step        integer NOT NULL CHECK (step >= 0),
    state       bytea NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE results (
    job_id      bigint PRIMARY KEY REFERENCES jobs (id),
    png         bytea NOT NULL,
    latents     bytea NOT NULL,
    metadata    jsonb NOT NULL,
    created_at  timestamptz NOT NULL
);

-- NOTIFY hidiff_jobs (payload: job id) when a job becomes queued (insert or re-queue), and
-- hidiff_job_events on every state, step or cancel-request change. Delivered at commit.
CREATE FUNCTION hidiff_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = 'queued' AND (TG_OP = 'INSERT' OR OLD.state <> 'queued') THEN
        PERFORM pg_notify('hidiff_jobs', NEW.id::text);
    END IF;
    IF TG_OP = 'INSERT' OR OLD.state <> NEW.state OR OLD.step <> NEW.step
       OR OLD.cancel_requested <> NEW.cancel_requested THEN
        PERFORM pg_notify('hidiff_job_events', NEW.id::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION hidiff_jobs_notify();
