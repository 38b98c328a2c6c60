-- 0003_groups: sharded jobs. group_size is how many workers render the job together (NULL: the coordinator
-- decides; 1 until it estimates memory). jobs.workers (from 0001) lists the group's members in rank order.
ALTER TABLE jobs ADD COLUMN group_size integer;
ALTER TABLE jobs ADD CONSTRAINT jobs_group_size_range
    CHECK (group_size IS NULL OR (group_size >= 1 AND group_size <= 64));
-- 'grouped': the coordinator recorded the members of a sharded job's group (detail.workers, rank order).
ALTER TABLE job_events DROP CONSTRAINT job_events_kind_known;
ALTER TABLE job_events ADD CONSTRAINT job_events_kind_known CHECK (kind IN (
    'submitted', 'claimed', 'checkpointed', 'succeeded', 'failed', 'retry-scheduled', 'rescued',
    'cancel-requested', 'cancelled', 'released', 'retried-by-admin', 'grouped'));
