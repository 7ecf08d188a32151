//! Which files go into which slice, and under which names: go-graphsplit's walk and its
//! slicing of the byte stream (`Chunk`), as a plan made before any data is read.

use std::path::{Path, PathBuf};

use crate::unixfs::ListedFile;

/// Why a dataset could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}: file names must be UTF-8 to become UnixFS link names; rename it")]
    NonUtf8Name(PathBuf),
    #[error("{0}: a symbolic link loops back to a directory above it; remove the link or split below it")]
    Loop(PathBuf),
    #[error("the slice size must be more than 0 bytes")]
    ZeroSliceSize,
}

/// A file found in the walk, in walk order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    /// The path as graphsplit forms it: the target, then `/name` per level.
    pub path: String,
    pub name: String,
    pub size: u64,
}

/// One slice: its name (`<graph>.car`, or `<graph>-total-<n>-part-<k>.car`) and its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub name: String,
    pub files: Vec<ListedFile>,
    /// File bytes in the slice.
    pub bytes: u64,
}

/// The slices of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub slices: Vec<Slice>,
    pub total_bytes: u64,
}

/// Walks `target` as graphsplit does: depth first, each directory's entries sorted by name
/// bytes, entries whose name starts with `.` skipped (directories too), symbolic links
/// followed. (graphsplit also skips a target whose own name starts with `.`, so `graphsplit
/// chunk .` splits nothing; here the target is always taken.)
pub fn walk(target: &str) -> Result<Vec<FoundFile>, PlanError> {
    let mut out = Vec::new();
    let path = Path::new(target);
    let meta = std::fs::metadata(path).map_err(|source| PlanError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        let mut above = Vec::new();
        walk_dir(target, &mut above, &mut out)?;
    } else {
        let name = path
            .file_name()
            .map(|n| n.to_str().ok_or_else(|| PlanError::NonUtf8Name(path.to_path_buf())))
            .transpose()?
            .unwrap_or(target)
            .to_string();
        out.push(FoundFile {
            path: target.to_string(),
            name,
            size: meta.len(),
        });
    }
    Ok(out)
}

fn walk_dir(dir: &str, above: &mut Vec<PathBuf>, out: &mut Vec<FoundFile>) -> Result<(), PlanError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PlanError::Io { path, source }
    };
    let canonical = std::fs::canonicalize(dir).map_err(io(Path::new(dir)))?;
    if above.contains(&canonical) {
        return Err(PlanError::Loop(PathBuf::from(dir)));
    }
    above.push(canonical);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(Path::new(dir)))? {
        let entry = entry.map_err(io(Path::new(dir)))?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| PlanError::NonUtf8Name(entry.path()))?;
        names.push(name);
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        if name.starts_with('.') {
            continue;
        }
        let path = format!("{dir}/{name}");
        let meta = std::fs::metadata(&path).map_err(io(Path::new(&path)))?;
        if meta.is_dir() {
            walk_dir(&path, above, out)?;
        } else {
            out.push(FoundFile {
                path,
                name,
                size: meta.len(),
            });
        }
    }
    above.pop();
    Ok(())
}

/// Slices `files` into graphs of `slice_size` file bytes, as graphsplit's `Chunk`: files are
/// added whole while they fit; a file that overflows the slice is cut at byte offsets into
/// `<name>.00000000`, `<name>.00000001`, … (the first cut fills the slice, each later one is
/// a whole slice, the rest stays for the next slice). Every slice but the last holds exactly
/// `slice_size` bytes. `parent` is stripped from each file's directory to give its place in
/// the tree (graphsplit's `--parent-path`, the target by default).
pub fn plan(files: &[FoundFile], slice_size: u64, graph_name: &str, parent: &str) -> Result<Plan, PlanError> {
    if slice_size == 0 {
        return Err(PlanError::ZeroSliceSize);
    }
    let total_bytes: u64 = files.iter().map(|f| f.size).sum();
    if total_bytes == 0 {
        return Ok(Plan {
            slices: Vec::new(),
            total_bytes,
        });
    }
    // graphsplit's count: one more than needed when the total is a whole number of slices;
    // the names carry it.
    let total = total_bytes / slice_size + 1;
    let parent = go_clean(parent);
    let mut slices = Vec::new();
    let mut current: Vec<ListedFile> = Vec::new();
    let mut cumu = 0u64;
    let close = |current: &mut Vec<ListedFile>, cumu: &mut u64, slices: &mut Vec<Slice>| {
        let n = slices.len() as u64;
        let name = if total == 1 {
            format!("{graph_name}.car")
        } else {
            format!("{graph_name}-total-{total}-part-{}.car", n + 1)
        };
        slices.push(Slice {
            name,
            files: std::mem::take(current),
            bytes: *cumu,
        });
        *cumu = 0;
    };
    for f in files {
        let dirs = dirs_of(&f.path, &parent);
        let entry = |name: String, start: u64, len: Option<u64>| ListedFile {
            path: PathBuf::from(&f.path),
            dirs: dirs.clone(),
            name,
            start,
            len,
        };
        if cumu + f.size <= slice_size {
            cumu += f.size;
            current.push(entry(f.name.clone(), 0, None));
            if cumu == slice_size {
                close(&mut current, &mut cumu, &mut slices);
            }
            continue;
        }
        let mut cut = 0u32;
        let mut start = 0u64;
        let first = slice_size - cumu;
        current.push(entry(format!("{}.{cut:08}", f.name), 0, Some(first)));
        cumu += first;
        close(&mut current, &mut cumu, &mut slices);
        start += first;
        cut += 1;
        while start < f.size {
            let len = slice_size.min(f.size - start);
            current.push(entry(format!("{}.{cut:08}", f.name), start, Some(len)));
            cumu += len;
            start += len;
            cut += 1;
            if len == slice_size {
                close(&mut current, &mut cumu, &mut slices);
            }
        }
    }
    if cumu > 0 {
        close(&mut current, &mut cumu, &mut slices);
    }
    Ok(Plan { slices, total_bytes })
}

/// The directories a file sits under: its path's directory less `parent` (string-wise, as
/// graphsplit strips it), split on `/`. A file that is the target itself sits at the root.
fn dirs_of(path: &str, parent: &str) -> Vec<String> {
    let mut dir = go_dir(path);
    if parent == go_clean(path) {
        dir = String::new();
    } else if !parent.is_empty() && dir.starts_with(parent) {
        dir = dir[parent.len()..].to_string();
    }
    let dir = dir.strip_prefix('/').unwrap_or(&dir);
    if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').map(str::to_string).collect()
    }
}

/// Go's `path.Dir`: everything before the last slash, cleaned.
fn go_dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => go_clean(&path[..=i]),
        None => ".".to_string(),
    }
}

/// Go's `path.Clean`: the shortest lexically equal path.
pub fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: u64) -> FoundFile {
        FoundFile {
            path: path.to_string(),
            name: path.rsplit('/').next().unwrap_or(path).to_string(),
            size,
        }
    }

    /// A slice's name and its files as (name, dirs, start, len).
    type Layout = Vec<(String, Vec<(String, Vec<String>, u64, Option<u64>)>)>;

    fn layout(plan: &Plan) -> Layout {
        plan.slices
            .iter()
            .map(|s| {
                let files = s
                    .files
                    .iter()
                    .map(|f| (f.name.clone(), f.dirs.clone(), f.start, f.len))
                    .collect();
                (s.name.clone(), files)
            })
            .collect()
    }

    #[test]
    fn go_path_clean_and_dir() {
        assert_eq!(go_clean("a//b/./c/.."), "a/b");
        assert_eq!(go_clean("/a/../.."), "/");
        assert_eq!(go_clean("../x"), "../x");
        assert_eq!(go_clean("ds/"), "ds");
        assert_eq!(go_dir("ds//a/b.txt"), "ds/a");
        assert_eq!(go_dir("b.txt"), ".");
    }

    #[test]
    fn files_fill_slices_and_an_overflowing_file_is_cut() {
        let files = [
            file("ds/a/one", 3),
            file("ds/a/two", 5),
            file("ds/big", 25),
            file("ds/z/tail", 2),
        ];
        let plan = plan(&files, 10, "g", "ds").expect("plan");
        assert_eq!(plan.total_bytes, 35);
        let want = vec![
            (
                "g-total-4-part-1.car".to_string(),
                vec![
                    ("one".to_string(), vec!["a".to_string()], 0, None),
                    ("two".to_string(), vec!["a".to_string()], 0, None),
                    ("big.00000000".to_string(), vec![], 0, Some(2)),
                ],
            ),
            (
                "g-total-4-part-2.car".to_string(),
                vec![("big.00000001".to_string(), vec![], 2, Some(10))],
            ),
            (
                "g-total-4-part-3.car".to_string(),
                vec![("big.00000002".to_string(), vec![], 12, Some(10))],
            ),
            (
                "g-total-4-part-4.car".to_string(),
                vec![
                    ("big.00000003".to_string(), vec![], 22, Some(3)),
                    ("tail".to_string(), vec!["z".to_string()], 0, None),
                ],
            ),
        ];
        assert_eq!(layout(&plan), want);
        assert_eq!(plan.slices.iter().map(|s| s.bytes).collect::<Vec<_>>(), [10, 10, 10, 5]);
    }

    #[test]
    fn an_exact_multiple_keeps_graphsplits_count_in_the_names() {
        let files = [file("ds/a", 10), file("ds/b", 10)];
        let plan = plan(&files, 10, "g", "ds").expect("plan");
        let names: Vec<_> = plan.slices.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["g-total-3-part-1.car", "g-total-3-part-2.car"]);
        let one = super::plan(&[file("ds/a", 4)], 10, "g", "ds").expect("plan");
        assert_eq!(one.slices[0].name, "g.car");
        let empty = super::plan(&[file("ds/a", 0)], 10, "g", "ds").expect("plan");
        assert!(empty.slices.is_empty());
        assert!(matches!(
            super::plan(&files, 0, "g", "ds"),
            Err(PlanError::ZeroSliceSize)
        ));
    }

    #[test]
    fn a_single_file_target_sits_at_the_root_and_parent_path_keeps_the_target_name() {
        let plan1 = plan(&[file("data/f.bin", 4)], 10, "g", "data/f.bin").expect("plan");
        assert!(plan1.slices[0].files[0].dirs.is_empty());
        let plan2 = plan(&[file("/data/ds/a/f", 4)], 10, "g", "/data").expect("plan");
        assert_eq!(plan2.slices[0].files[0].dirs, ["ds", "a"]);
    }
}
