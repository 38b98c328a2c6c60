-- 0004_worker_peer_address: where a worker's group peers reach it (HOST:PORT; NULL when it was started
-- without --peer-listen and so takes no part in sharded jobs).
ALTER TABLE workers ADD COLUMN peer_address text;
