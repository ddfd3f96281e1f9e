-- The databases of the services that share the main PostgreSQL server.
CREATE DATABASE auth;
CREATE DATABASE payments;
CREATE DATABASE delivery;
CREATE DATABASE tracking;
