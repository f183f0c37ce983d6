//! Integration tests: the real application over HTTP against a real
//! PostgreSQL, each test in its own database.

mod access;
mod backtests;
mod baseline;
mod compose;
pub mod connectors;
mod embedded;
mod errors;
mod examples;
mod exports;
mod exposure;
mod facts;
mod health;
mod helpers;
mod idempotency;
mod import;
mod integrity;
mod migrations;
mod monitoring;
mod numbers;
mod openapi;
mod pictures;
mod process;
mod products;
mod receiver;
mod scenarios;
mod scores;
mod sources;
mod time;
