-- Name and e-mail of every customer (for drill-down tables; left out with --mask-pii).
SELECT id AS customer, name, email FROM customers;
