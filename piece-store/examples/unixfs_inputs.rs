//! Writes the UnixFS cross-check inputs to a directory: `<dir>/go` and `<dir>/small`.
//! See tools/unixfs-vectors/README.md.

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "usage: unixfs_inputs <dir>"))?;
    test_inputs::unixfs_inputs::write_go_inputs(&dir.join("go"))?;
    test_inputs::unixfs_inputs::write_small_inputs(&dir.join("small"))
}
