-- sqlguard corpus: MySQL/MariaDB queries the guard must ACCEPT.
--
-- Format (shared by all four corpus files, simple enough for a C or node reader):
--   * UTF-8 text, lines end with "\n".
--   * Records are separated by lines that are exactly "-- @@".
--   * Everything before the first "-- @@" line is this header (not a record).
--   * In a record, a line starting with "-- expect: " is metadata (unused in
--     this file; attack files use it for the expected rejection reason).
--   * The SQL of a record is its other lines joined with "\n" (no final
--     newline). Records with no SQL left are ignored.
-- Every record runs on the fixture database of tests/fixtures/mysql.sql
-- (MariaDB 10.11) as the read-only user, alone and wrapped by
-- vz_sqlguard_wrap_limit(). Backslashes are literal SQL text.
-- @@
SELECT c.name, o.id AS order_id, o.total
FROM customers c
JOIN orders o ON o.customer_id = c.id
WHERE o.status = 'shipped'
ORDER BY o.total DESC, o.id
-- @@
WITH totals AS (
    SELECT customer_id, SUM(total) AS spent, COUNT(*) AS n
    FROM orders
    GROUP BY customer_id
)
SELECT c.name, t.spent, t.n
FROM totals t JOIN customers c ON c.id = t.customer_id
WHERE t.spent > 1000
-- @@
WITH RECURSIVE seq (g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM seq WHERE g < 10)
SELECT g FROM seq
-- @@
SELECT id, customer_id, total,
       ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY placed_at) AS nth,
       SUM(total) OVER (PARTITION BY customer_id ORDER BY placed_at) AS running
FROM orders
-- @@
SELECT name FROM customers WHERE city = 'Paris'
UNION
SELECT name FROM customers WHERE city = 'Lyon'
-- @@
(SELECT id FROM customers ORDER BY id LIMIT 2) UNION ALL (SELECT id FROM orders ORDER BY id LIMIT 2)
-- @@
SELECT * FROM (VALUES (1, 'one'), (2, 'two')) AS v
-- @@
SELECT * FROM customers
WHERE id IN (SELECT customer_id FROM orders WHERE total > 500)
  AND EXISTS (SELECT 1 FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.customer_id = customers.id)
-- @@
SELECT '$$;DROP$$' AS s, '/* ; DROP TABLE users */' AS c, '; DROP TABLE customers; --' AS d
-- @@
SELECT id /* ; DROP TABLE customers */ FROM customers
-- @@
SELECT name FROM customers # ; DROP TABLE customers
WHERE id = 1
-- @@
SELECT name FROM customers -- ; DROP TABLE customers
WHERE id = 1
-- @@
SELECT '--' AS dashes, '#' AS hash, ';' AS semi, 'It''s' AS doubled, "say ""hi""" AS dq
-- @@
SELECT 2 --1 AS three
-- @@
SELECT `delete`, `select`, `Unit Price`, `quote``col` FROM `Order Items`
-- @@
SELECT oi.`delete`, oi.order_id FROM `Order Items` AS oi WHERE oi.`select` IS NOT NULL
-- @@
SELECT 1 AS `select`, 2 AS `delete`, 3 AS `update`, 4 AS `into`
-- @@
SELECT 'a\\b' AS backslash, 'tab\there' AS tab, 'x\"y' AS dq_in_sq, "x\'y" AS sq_in_dq
-- @@
SELECT COUNT(*) FROM orders;
-- @@
SELECT COUNT(*) FROM orders ;  -- trailing comment
-- @@
SELECT COUNT(*) FROM orders /* trailing block comment */ ;
-- @@
WITH update_log AS (SELECT id, status FROM orders), delete_me AS (SELECT 1 AS x)
SELECT * FROM update_log, delete_me
-- @@
SELECT INSERT('abcdef', 2, 3, 'X') AS ins, REPLACE(name, 'a', 'b') AS rep FROM customers
-- @@
SELECT status, COUNT(*) FROM orders GROUP BY status WITH ROLLUP
-- @@
SELECT orders.id, CASE WHEN total > 100 THEN 'big' ELSE 'small' END AS size,
       CAST(total AS SIGNED) AS whole, CONVERT(name USING utf8mb4) AS conv
FROM orders JOIN customers ON customers.id = orders.customer_id
-- @@
SELECT JSON_EXTRACT('{"a": 1}', '$.a') AS a, @@version AS v, 1e3 AS sci, .5 AS half, 0x41 AS hex
-- @@
SELECT code, name FROM vz_sales.regions WHERE active = 1 ORDER BY code
-- @@
SELECT m.plat, m.prix, x.`CamelName` FROM `café_ménu` AS m JOIN `MixedCase` AS x ON x.`Id` = m.id
-- @@
SELECT LOWER(name), LPAD(city, 20, ' '), COALESCE(notes, '') FROM customers WHERE name LIKE '%an%'
-- @@
SELECT `value`, `dot.col` FROM `weird"name`
-- @@
SELECT /*+ MAX_EXECUTION_TIME(1000) */ id FROM customers
