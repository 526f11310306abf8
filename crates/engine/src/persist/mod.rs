//! Persistence: the dataset on disk, so that data survives a restart.
//!
//! - [`rdb_file`]: the RDB file format (redis-server 7.0's), a writer fed key by key and a loader.
//!
//! Snapshots of a live store are cut by [`crate::store::snapshot`]; the SAVE/BGSAVE machinery and the
//! `save` schedule live in [`rdb_save`].

pub mod rdb_file;
pub mod rdb_save;
