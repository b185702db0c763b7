// ACME
