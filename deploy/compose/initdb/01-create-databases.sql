-- Run once by the postgres image, on first start with an empty data volume
-- (/docker-entrypoint-initdb.d). One database per service: no service reads another's.
-- The owner is POSTGRES_USER from docker-compose.yml.
CREATE DATABASE registry OWNER antt;
CREATE DATABASE assessment OWNER antt;
CREATE DATABASE reporting OWNER antt;
CREATE DATABASE notifications OWNER antt;
