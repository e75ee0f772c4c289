//! Sources of records: tailed files and the OTLP receiver.

pub mod tail;
