pSELECT id, customer_id, total,
       row_number() OVER (PARTITION BY customer_id ORDER BY placed_at) AS nth,
       sum(total) OVER w AS running
FROM orders
WINDOW w AS (PARTITION BY customer_id ORDER BY placed_at ROWS UNBOUNDED PRECEDING)