pub mod api;
pub mod config;
pub mod domain;
pub mod scoring;
pub mod startup;
pub mod store;
pub mod telemetry;
