//! Deterministic files and directories for the UnixFS cross-check (see
//! `tools/unixfs-vectors`): the same bytes every time, from Go's math/rand.

use std::path::Path;

use crate::gorand::GoRandStream;

fn file(path: &Path, seed: i64, len: usize) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, GoRandStream::bytes(seed, len))
}

/// Inputs for the Go client's settings (1 MiB chunks, 1024 links, 256 KiB shard threshold).
pub fn write_go_inputs(dir: &Path) -> std::io::Result<()> {
    file(&dir.join("one_chunk"), 1, 1 << 20)?;
    file(&dir.join("three_chunks"), 2, 3_000_000)?;
    file(&dir.join("dir/a"), 3, 2000)?;
    file(&dir.join("dir/b"), 4, 300)?;
    file(&dir.join("dir/sub/c"), 5, 5000)?;
    // Four chunks: a file node over two would be under 126 bytes and inlined (Go does; the
    // JS importer does not inline at all).
    file(&dir.join("dir/sub/d"), 6, 3_500_000)?;
    file(&dir.join("dir/sub/e"), 7, 700)?;
    for i in 0..6000 {
        file(&dir.join(format!("big_dir/file-{i:05}")), 1000 + i, 200)?;
    }
    Ok(())
}

/// Inputs for small settings (1 KiB chunks, 4 links, 1000-byte shard threshold), to exercise
/// deep trees and nested shards with little data.
pub fn write_small_inputs(dir: &Path) -> std::io::Result<()> {
    file(&dir.join("deep"), 8, 1024 * 70 + 500)?;
    for i in 0..60 {
        file(&dir.join(format!("shard_dir/n{i}")), 100 + i, 130)?;
    }
    Ok(())
}
