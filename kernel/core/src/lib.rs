//! adpulse kernel core: pure Rust over Arrow, no Python. Ingest turns payloads into validated
//! fact batches; aggregate sums facts by key and derives the KPIs; analytics reads those sums
//! as series (trends, anomalies, change attribution, budget decisions).

pub mod aggregate;
pub mod analytics;
pub mod currency;
pub mod date;
pub mod ingest;
pub mod kpi;
pub mod money;
mod parallel;
pub mod platform;
pub mod problem;
pub mod schema;

pub use parallel::worker_threads;
