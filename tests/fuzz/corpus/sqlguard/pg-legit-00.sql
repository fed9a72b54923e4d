pSELECT c.name, o.id AS order_id, o.total
FROM customers c
JOIN orders o ON o.customer_id = c.id
WHERE o.status = 'shipped'
ORDER BY o.total DESC, o.id