pub mod api;
pub mod config;
pub mod domain;
pub mod live;
pub mod scoring;
pub mod startup;
pub mod store;
pub mod telemetry;
