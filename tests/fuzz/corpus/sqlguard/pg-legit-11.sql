pSELECT id, CASE WHEN total > 100 THEN 'big' ELSE 'small' END AS size,
       total::int AS whole, CAST(total AS text) AS txt, ARRAY[1, 2, 3] AS arr,
       (ARRAY['a', 'b'])[1] AS first
FROM orders