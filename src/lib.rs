//! stationd: the daemon at a warehouse station. See docs/ARCHITECTURE.md for the map.

pub mod config;
pub mod event;
pub mod journal;
