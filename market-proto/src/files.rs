//! The small files through which processes find each other (`api`, `token`, API info) and
//! the secrets beside them: written atomically and readable only by their owner.

use std::io::Write;
use std::path::Path;

/// Write `data` to `path` with mode 0600, via a temporary file and a rename.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}
