//! The store contract against a real PostgreSQL database, one fresh database per test.

tollgate_store_contract::contract_suite!(tollgate_store_contract::harness::postgres);
