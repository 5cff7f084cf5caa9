//! stationd: the daemon at a warehouse station. See docs/ARCHITECTURE.md for the map.

pub mod cli;
pub mod config;
pub mod contract;
pub mod control;
pub mod daemon;
pub mod devices;
pub mod doctor;
pub mod documents;
pub mod event;
pub mod http;
pub mod journal;
pub mod locale;
pub mod logging;
pub mod monitor;
pub mod oms;
pub mod orders;
pub mod print;
pub mod process;
pub mod scanner;
pub mod service;
pub mod station;
pub mod uplink;
pub mod workflow;
