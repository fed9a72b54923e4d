-- sqlguard corpus: MySQL/MariaDB queries the guard must REJECT.
--
-- Format (shared by all four corpus files, simple enough for a C or node reader):
--   * UTF-8 text, lines end with "\n".
--   * Records are separated by lines that are exactly "-- @@".
--   * Everything before the first "-- @@" line is this header (not a record).
--   * In a record, a line starting with "-- expect: " is metadata: the rest
--     of the line is a substring the guard's rejection reason must contain.
--     Such a line is also a plain SQL comment ("-- " then text), so a record
--     sent as-is to a server still means the same thing.
--   * The SQL of a record is its other lines joined with "\n" (no final
--     newline). Records with no SQL left are ignored.
-- Tables are those of tests/fixtures/mysql.sql (customers, orders, ...).
-- Backslashes below are literal SQL text (no C escaping).
-- @@
-- expect: only one statement
SELECT 1;DROP TABLE customers
-- @@
-- expect: only one statement
SELECT 1; DROP TABLE customers
-- @@
-- expect: only one statement
COMMIT; DROP TABLE customers
-- @@
-- expect: only one statement
SELECT 1; COMMIT; INSERT INTO customers (name) VALUES ('x')
-- @@
-- expect: only one statement
SELECT * FROM customers; SELECT 2
-- @@
-- expect: only one statement
(SELECT 1) UNION (SELECT 2); DROP TABLE customers
-- @@
-- expect: only one statement
SELECT 1 /* */; DROP TABLE customers
-- @@
-- expect: only one statement
SELECT 1 /* /* */ ; DROP TABLE customers */
-- @@
-- expect: only one statement
SELECT 1 # a comment
; DROP TABLE customers
-- @@
-- expect: only one statement
SELECT 1 -- a comment
; DROP TABLE customers
-- @@
-- expect: only one statement
SELECT 1 --; DROP TABLE customers
-- @@
-- expect: only one statement
SELECT 1 --1; DROP TABLE customers
-- @@
-- expect: only one statement
SELECT '#'; DROP TABLE customers
-- @@
-- expect: only one statement
SELECT 'a\\'; DROP TABLE customers; -- '
-- @@
-- expect: backslash
SELECT 'a\'; DROP TABLE customers; -- '
-- @@
-- expect: backslash
SELECT "a\"; DROP TABLE customers; -- "
-- @@
-- expect: backslash
SELECT 'x\\\'; DROP TABLE customers; -- '
-- @@
-- expect: executable comments are not allowed
/*! DROP TABLE customers */ SELECT 1
-- @@
-- expect: executable comments are not allowed
/*!50000 SELECT*/ 1; DROP TABLE customers
-- @@
-- expect: executable comments are not allowed
SELECT 1 /*!99999 , SLEEP(5) */
-- @@
-- expect: executable comments are not allowed
SELECT 1 /*M!100000 , SLEEP(5) */
-- @@
-- expect: SELECT ... INTO writes files or variables
SELECT * FROM customers INTO OUTFILE '/tmp/vz-customers.txt'
-- @@
-- expect: SELECT ... INTO writes files or variables
SELECT name FROM customers LIMIT 1 INTO DUMPFILE '/tmp/vz-dump.bin'
-- @@
-- expect: SELECT ... INTO writes files or variables
SELECT name INTO @v FROM customers LIMIT 1
-- @@
-- expect: SELECT ... INTO writes files or variables
SELECT 1e1into OUTFILE '/tmp/vz-x.txt'
-- @@
-- expect: SELECT ... INTO writes files or variables
SELECT 1.into OUTFILE '/tmp/vz-y.txt'
-- @@
-- expect: function SLEEP is not allowed
SELECT SLEEP(5)
-- @@
-- expect: function SLEEP is not allowed
SELECT sleep (5)
-- @@
-- expect: function SLEEP is not allowed
SELECT `SLEEP`(1)
-- @@
-- expect: function SLEEP is not allowed
SELECT * FROM customers WHERE id = 1 AND SLEEP/**/(1) = 0
-- @@
-- expect: function SLEEP is not allowed
SELECT (SELECT SLEEP(1)) AS s FROM customers
-- @@
-- expect: function SLEEP is not allowed
SELECT 1 UNION SELECT SLEEP(1)
-- @@
-- expect: function SLEEP is not allowed
SELECT "SLEEP"(1)
-- @@
-- expect: function BENCHMARK is not allowed
SELECT BENCHMARK(100000000, MD5('x'))
-- @@
-- expect: function GET_LOCK is not allowed
SELECT GET_LOCK('x', 1)
-- @@
-- expect: function RELEASE_LOCK is not allowed
SELECT RELEASE_LOCK('x')
-- @@
-- expect: function IS_FREE_LOCK is not allowed
SELECT IS_FREE_LOCK('x')
-- @@
-- expect: function LOAD_FILE is not allowed
SELECT LOAD_FILE('/etc/passwd')
-- @@
-- expect: function MASTER_POS_WAIT is not allowed
SELECT MASTER_POS_WAIT('mysql-bin.000001', 4)
-- @@
-- expect: function SYS_EXEC is not allowed
SELECT sys_exec('id')
-- @@
-- expect: function NEXTVAL is not allowed
SELECT NEXTVAL(s)
-- @@
-- expect: NEXT VALUE FOR advances a sequence
SELECT NEXT VALUE FOR s
-- @@
-- expect: NEXTVAL advances a sequence
SELECT s.nextval
-- @@
-- expect: LAST_INSERT_ID with an argument
SELECT LAST_INSERT_ID(42)
-- @@
-- expect: LOCK IN SHARE MODE locks rows
SELECT * FROM customers LOCK IN SHARE MODE
-- @@
-- expect: FOR UPDATE locks rows
SELECT * FROM customers FOR UPDATE
-- @@
-- expect: FOR SHARE locks rows
SELECT * FROM customers FOR SHARE
-- @@
-- expect: FOR UPDATE locks rows
SELECT * FROM customers WHERE id IN (SELECT customer_id FROM orders FOR UPDATE)
-- @@
-- expect: variable assignment is not allowed
SELECT @a := 1
-- @@
-- expect: variable assignment is not allowed
SELECT name, @n := @n + 1 FROM customers
-- @@
-- expect: only SELECT is allowed after WITH, got DELETE
WITH d AS (SELECT 1) DELETE FROM customers
-- @@
-- expect: only SELECT is allowed after WITH, got UPDATE
WITH RECURSIVE r AS (SELECT 1) UPDATE customers SET name = 'x'
-- @@
-- expect: the SET_VAR optimizer hint is not allowed
SELECT /*+ SET_VAR(sql_mode = 'NO_BACKSLASH_ESCAPES') */ 1
-- @@
-- expect: SELECT ... PROCEDURE is not allowed
SELECT * FROM customers PROCEDURE ANALYSE()
-- @@
-- expect: only SELECT is allowed, got HANDLER
HANDLER customers OPEN
-- @@
-- expect: only SELECT is allowed, got SET
SET @a := 1
-- @@
-- expect: only SELECT is allowed, got SET
SET SESSION TRANSACTION READ WRITE
-- @@
-- expect: only SELECT is allowed, got START
START TRANSACTION READ WRITE
-- @@
-- expect: only SELECT is allowed, got DO
DO SLEEP(1)
-- @@
-- expect: only SELECT is allowed, got CALL
CALL p()
-- @@
-- expect: only SELECT is allowed, got REPLACE
REPLACE INTO customers (id, name) VALUES (1, 'x')
-- @@
-- expect: only SELECT is allowed, got LOAD
LOAD DATA INFILE '/etc/passwd' INTO TABLE customers
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
-- expect: only SELECT is allowed, got PREPARE
PREPARE s FROM 'DROP TABLE customers'
-- @@
-- expect: only SELECT is allowed, got LOCK
LOCK TABLES customers WRITE
-- @@
-- expect: only SELECT is allowed, got SHOW
SHOW DATABASES
-- @@
-- expect: only SELECT is allowed, got EXPLAIN
EXPLAIN DELETE FROM customers
-- @@
-- expect: unterminated comment
SELECT 1 /* never closed
-- @@
-- expect: unterminated string
SELECT 'never closed
