-- 0002_first_step: when a job's first step finished (any attempt), for the submit-to-first-step latency
-- that `hidiff admin queue` and the queue benchmark report.
ALTER TABLE jobs ADD COLUMN first_step_at timestamptz;
ALTER TABLE jobs ADD CONSTRAINT jobs_first_step_after_start
    CHECK (first_step_at IS NULL OR first_step_at >= created_at);
