//! Sizes ("64M", "2G") and durations ("30s", "5m") as written in profiles and on the command line.
