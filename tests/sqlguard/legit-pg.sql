-- sqlguard corpus: PostgreSQL queries the guard must ACCEPT.
--
-- Format (shared by all four corpus files, simple enough for a C or node reader):
--   * UTF-8 text, lines end with "\n".
--   * Records are separated by lines that are exactly "-- @@".
--   * Everything before the first "-- @@" line is this header (not a record).
--   * In a record, a line starting with "-- expect: " is metadata (unused in
--     this file; attack files use it for the expected rejection reason).
--   * The SQL of a record is its other lines joined with "\n" (no final
--     newline). Records with no SQL left are ignored.
-- Every record runs on the fixture database of tests/fixtures/pg.sql as the
-- read-only role, alone and wrapped by vz_sqlguard_wrap_limit().
-- @@
SELECT c.name, o.id AS order_id, o.total
FROM customers c
JOIN orders o ON o.customer_id = c.id
WHERE o.status = 'shipped'
ORDER BY o.total DESC, o.id
-- @@
WITH totals AS (
    SELECT customer_id, sum(total) AS spent, count(*) AS n
    FROM orders
    GROUP BY customer_id
)
SELECT c.name, t.spent, t.n
FROM totals t JOIN customers c ON c.id = t.customer_id
WHERE t.spent > 1000
-- @@
SELECT id, customer_id, total,
       row_number() OVER (PARTITION BY customer_id ORDER BY placed_at) AS nth,
       sum(total) OVER w AS running
FROM orders
WINDOW w AS (PARTITION BY customer_id ORDER BY placed_at ROWS UNBOUNDED PRECEDING)
-- @@
SELECT name FROM customers WHERE city = 'Paris'
UNION
SELECT name FROM customers WHERE city = 'Lyon'
INTERSECT
SELECT name FROM customers
EXCEPT
SELECT 'nobody'
-- @@
SELECT * FROM (VALUES (1, 'one'), (2, 'two')) AS v (id, label)
-- @@
VALUES (1, 'a'), (2, 'b')
-- @@
SELECT c.name, last.total
FROM customers c
CROSS JOIN LATERAL (
    SELECT total FROM orders o WHERE o.customer_id = c.id ORDER BY placed_at DESC LIMIT 1
) AS last
-- @@
SELECT * FROM customers
WHERE id IN (SELECT customer_id FROM orders WHERE total > 500)
  AND EXISTS (SELECT 1 FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.customer_id = customers.id)
-- @@
SELECT '$$;DROP$$' AS s, $$;DROP TABLE customers;$$ AS d, $x$ ' ; $x$ AS tagged
-- @@
SELECT '/* ; DROP TABLE users */' AS s FROM customers LIMIT 1
-- @@
SELECT id /* ; DROP TABLE customers */ FROM customers
-- @@
SELECT name FROM customers -- ; DROP TABLE customers
WHERE id = 1
-- @@
SELECT 1 /* /* */ ; DROP TABLE customers */ AS nested_comment
-- @@
SELECT '--' AS dashes, ';' AS semi, '''' AS quote, name FROM customers
-- @@
SELECT "delete", "select", "Unit Price", "quote""col" FROM "Order Items"
-- @@
SELECT 1 AS "select", 2 AS "delete", 3 AS "update", 4 AS "drop"
-- @@
SELECT E'\';' AS quote_semicolon, E'\\' AS backslash, 'a\' AS plain_backslash
-- @@
SELECT U&'d\0061t\+000061' AS unicode_escape, U&"name" FROM customers
-- @@
SELECT count(*) FROM orders;
-- @@
SELECT count(*) FROM orders ;  -- trailing comment
-- @@
SELECT count(*) FROM orders /* trailing block comment */
-- @@
WITH update_log AS (SELECT id, status FROM orders), delete_me AS (SELECT 1 AS x)
SELECT * FROM update_log, delete_me
-- @@
SELECT id, CASE WHEN total > 100 THEN 'big' ELSE 'small' END AS size,
       total::int AS whole, CAST(total AS text) AS txt, ARRAY[1, 2, 3] AS arr,
       (ARRAY['a', 'b'])[1] AS first
FROM orders
-- @@
SELECT current_setting('TimeZone') AS tz, now() IS NOT NULL AS has_now, version() AS v
-- @@
SELECT g, g * 2 AS doubled FROM generate_series(1, 5) AS g
-- @@
TABLE customers
-- @@
(SELECT id FROM customers ORDER BY id LIMIT 2) UNION ALL (SELECT id FROM orders ORDER BY id LIMIT 2)
-- @@
SELECT code, name FROM sales.regions WHERE active ORDER BY code
-- @@
SELECT * FROM "café_ménu" JOIN "MixedCase" ON "MixedCase"."Id" = "café_ménu".id
-- @@
SELECT c_jsonb -> 'a' AS a, c_int_array[1] AS first, c_text_array FROM all_types ORDER BY id
-- @@
SELECT lower(name), lpad(city, 20), coalesce(notes, '') FROM customers WHERE name ILIKE '%an%'
-- @@
SELECT * FROM customer_order_totals WHERE order_count > 3 FETCH FIRST 5 ROWS ONLY
-- @@
SELECT "value", "dot.col" FROM "weird""name"
