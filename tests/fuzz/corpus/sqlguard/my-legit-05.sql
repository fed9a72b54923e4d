mSELECT name FROM customers # ; DROP TABLE customers
WHERE id = 1