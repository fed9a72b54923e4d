mSELECT name FROM customers WHERE city = 'Paris'
UNION
SELECT name FROM customers WHERE city = 'Lyon'