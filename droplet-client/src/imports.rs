//! The client's local data (`data import|local|stat|drop`): a file becomes a UnixFS DAG in a
//! CAR under `<repo>/imports`, a CAR is used where it is; both get their piece CID and size
//! computed once, so a deal over them needs no further work.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use market_daemon::store::{Store, Table};
use market_proto::Json;
use market_proto::api::market_client::Import;
use market_types::Cid;
use piece_store::prepare;
use piece_store::unixfs::ImportOptions;

const IMPORTS: Table = Table("imports/");
const NEXT_ID: Table = Table("imports-next/");

#[derive(Debug, Clone)]
pub struct Imports {
    store: Arc<Store>,
    dir: PathBuf,
    next: Arc<std::sync::Mutex<()>>,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Imports {
    pub fn new(store: Arc<Store>, dir: PathBuf) -> Self {
        Imports {
            store,
            dir,
            next: Arc::default(),
        }
    }

    fn next_id(&self) -> Result<u64> {
        let _one = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let id = self.store.get_json::<u64>(NEXT_ID, "id")?.unwrap_or(1);
        self.store.put_json(NEXT_ID, "id", &(id + 1))?;
        Ok(id)
    }

    /// Import `path` (blocking: run it off the async threads).
    pub fn import(&self, path: &Path, is_car: bool) -> Result<Import> {
        let source = std::fs::canonicalize(path).with_context(|| format!("cannot read {}", path.display()))?;
        let id = self.next_id()?;
        let (root, car_path) = if is_car {
            let root = car_root(&source)?;
            (root, source.clone())
        } else {
            std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
            let car_path = self.dir.join(format!("{id}.car"));
            let car = prepare::generate_car(&source, &car_path, ImportOptions::default(), 1, &mut |_| {})?;
            (to_cid(&car.root.to_bytes())?, car_path)
        };
        let commp = prepare::commp_file(&car_path, 0, true, &mut |_| {})?;
        let car_size = std::fs::metadata(&car_path)?.len();
        let import = Import {
            key: id,
            err: String::new(),
            root: Some(Json(root)),
            source: source.display().to_string(),
            file_path: source.display().to_string(),
            car_path: car_path.display().to_string(),
            car_size,
            piece_cid: Some(Json(commp.commitment.piece_cid())),
            piece_size: commp.commitment.unpadded_size(),
            created: now_secs(),
        };
        self.store.put_json(IMPORTS, &format!("{id:020}"), &import)?;
        Ok(import)
    }

    pub fn list(&self) -> Result<Vec<Import>> {
        Ok(self.store.list_json(IMPORTS)?)
    }

    /// The newest import of `root`.
    pub fn by_root(&self, root: &Cid) -> Result<Option<Import>> {
        Ok(self
            .list()?
            .into_iter()
            .rev()
            .find(|i| i.root.as_ref().map(|r| r.0) == Some(*root)))
    }

    /// Forget an import, deleting the CAR it made (never a CAR it was given).
    pub fn remove(&self, id: u64) -> Result<()> {
        let key = format!("{id:020}");
        let Some(import) = self.store.get_json::<Import>(IMPORTS, &key)? else {
            bail!("no import with ID {id}");
        };
        let car = PathBuf::from(&import.car_path);
        if car.starts_with(&self.dir) {
            let _ = std::fs::remove_file(&car);
        }
        self.store.delete(IMPORTS, &key)?;
        Ok(())
    }
}

/// The first root of a CAR (v1 or v2).
fn car_root(path: &Path) -> Result<Cid> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let reader = piece_store::car::CarReader::new(std::io::BufReader::new(f))
        .map_err(|e| anyhow!("{} is not a CAR: {e}", path.display()))?;
    let root = reader
        .roots()
        .first()
        .ok_or_else(|| anyhow!("{} has no root CID", path.display()))?;
    to_cid(&root.to_bytes())
}

fn to_cid(bytes: &[u8]) -> Result<Cid> {
    Cid::try_from(bytes).map_err(|e| anyhow!("root CID: {e}"))
}
