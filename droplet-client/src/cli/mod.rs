//! droplet-client's command tree below `run` (as droplet's `src/cli/`): each module one
//! command group, talking to the daemon's API or working on local files.

pub mod batch;
pub mod data;
pub mod datacap;
pub mod funds;
pub mod interactive;
pub mod paych;
pub mod retrieval;
pub mod storage;
