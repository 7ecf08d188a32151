//! End-to-end tests: they start `droplet-devnet`, `droplet` and `droplet-client` as real
//! processes on loopback, in temporary repos, and clean them up.
//!
//! The shared harness (process spawning, readiness, teardown) lives here; the tests are in
//! `tests/`. Empty until the daemons exist.
