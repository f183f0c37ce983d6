//! Tests of the engine through its public API. Expected values are computed
//! by hand arithmetic in each test, never by the code under test.

mod exposure;
mod kit;
mod network;
mod properties;
mod scenarios;
mod scores;
mod worked_example;
