//! go-graphsplit's `chunk` without Go: a directory tree cut into slices of a fixed number
//! of file bytes, each slice one CARv1 with the DAG graphsplit builds (so the same root CIDs
//! and CAR bytes), its piece CID computed while the CAR is written, and `manifest.csv` in
//! graphsplit's `--calc-commp` form, which droplet's batch commands read.
//!
//! Memory does not grow with the data: a slice's leaves are file ranges, read again when
//! its CAR is written; only its inner nodes are held.

pub mod manifest;
pub mod plan;
mod run;

pub use self::manifest::ManifestRow;
pub use self::plan::{Plan, PlanError, Slice};
pub use self::run::{SliceResult, SplitError, SplitOptions, SplitOutcome, graphsplit_import_options, plan_for, split};
