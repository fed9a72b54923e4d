pSELECT c.name, last.total
FROM customers c
CROSS JOIN LATERAL (
    SELECT total FROM orders o WHERE o.customer_id = c.id ORDER BY placed_at DESC LIMIT 1
) AS last