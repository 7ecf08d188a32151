//! The same piece-storage suite against a filesystem store and a real S3 server (s3s-fs,
//! started on loopback in the test).

use std::net::SocketAddr;
use std::path::Path;

use piece_store::store::{FsStoreConfig, PieceStorage, PieceStore, S3StoreConfig, StoreError};
use tokio::net::TcpListener;

const PIECE: &str = "baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy";
const OTHER: &str = "baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy";

/// A running S3-compatible server on 127.0.0.1 with one bucket; it stops with the runtime.
async fn start_s3(root: &Path) -> SocketAddr {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use s3s::auth::SimpleAuth;
    use s3s::service::S3ServiceBuilder;

    std::fs::create_dir_all(root.join("pieces")).expect("bucket dir");
    let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs");
    let mut b = S3ServiceBuilder::new(fs);
    b.set_auth(SimpleAuth::from_single("AKIDTEST", "secret-test-key"));
    let service = b.build();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let conn = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(conn);
        }
    });
    addr
}

fn s3_config(addr: SocketAddr, name: &str, read_only: bool) -> S3StoreConfig {
    S3StoreConfig {
        name: name.into(),
        read_only,
        end_point: format!("http://{addr}"),
        bucket: "pieces".into(),
        sub_dir: "market/pieces".into(),
        access_key: "AKIDTEST".into(),
        secret_key: "secret-test-key".into(),
        token: String::new(),
    }
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// The suite: `writable` and `read_only` are two stores of the same kind.
async fn suite(writable: PieceStore, read_only: PieceStore, tmp: &Path) {
    let src = tmp.join("src.car");
    let data = payload(3 << 20 | 12345);
    std::fs::write(&src, &data).expect("source");

    // A read-only store refuses writes, and a storage of only read-only stores says so.
    let err = read_only.write_file(PIECE, &src).await.expect_err("read-only");
    assert!(matches!(err, StoreError::ReadOnly(_)), "{err}");
    let mut only_ro = PieceStorage::new();
    only_ro.add(read_only.clone()).expect("add");
    let err = only_ro.write_file(PIECE, &src).await.expect_err("read-only");
    assert!(err.to_string().contains("read-only"), "{err}");

    // Writes go to the writable store even when a read-only one comes first.
    let mut storage = PieceStorage::new();
    storage.add(read_only.clone()).expect("add");
    storage.add(writable.clone()).expect("add");
    assert!(matches!(storage.add(writable.clone()), Err(StoreError::Duplicate(_))));
    let name = storage.write_file(&format!("{PIECE}.car"), &src).await.expect("write");
    assert_eq!(name, writable.info().name);

    // Found as `<cid>.car`, whole and by range.
    let found = storage.locate(PIECE).await.expect("located");
    assert_eq!(
        (found.key.as_str(), found.size),
        (format!("{PIECE}.car").as_str(), data.len() as u64)
    );
    assert_eq!(storage.read_all(PIECE).await.expect("read"), data);
    for range in [0..1, 5..1_000_000, (data.len() - 10) as u64..data.len() as u64, 7..7] {
        let got = storage.read_range(PIECE, range.clone()).await.expect("range");
        assert_eq!(&got[..], &data[range.start as usize..range.end as usize]);
    }
    let err = storage
        .read_range(PIECE, 0..data.len() as u64 + 1)
        .await
        .expect_err("past the end");
    assert!(matches!(err, StoreError::BadRange { .. }), "{err}");

    // Found as `<cid>` too.
    writable.write_file(OTHER, &src).await.expect("write bare");
    assert_eq!(storage.locate(OTHER).await.expect("bare").key, OTHER);
    let listed = writable.list().await.expect("list");
    assert_eq!(listed.len(), 2, "{listed:?}");

    // A missing piece is a clear not-found naming the stores searched.
    let missing = "baga6ea4seaqgiktap34inmaex4wbs6cghlq5i2j2yd2bb2zndn5ep7ralzphkdy";
    let err = storage.read_all(missing).await.expect_err("missing");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(missing) && msg.contains(&writable.info().name), "{msg}");

    // Delete, then it is gone; a read-only store refuses deletes.
    assert!(matches!(read_only.delete(OTHER).await, Err(StoreError::ReadOnly(_))));
    writable.delete(OTHER).await.expect("delete");
    assert!(matches!(storage.locate(OTHER).await, Err(StoreError::NotFound { .. })));
    storage.remove(&read_only.info().name).expect("remove");
    assert!(matches!(storage.remove("nope"), Err(StoreError::NoSuchStore(_))));
}

#[tokio::test]
async fn filesystem_stores() {
    let tmp = tempfile::tempdir().expect("tmp");
    let writable = PieceStore::filesystem(&FsStoreConfig {
        name: "fs-rw".into(),
        read_only: false,
        path: tmp.path().join("rw"),
    })
    .expect("fs store");
    std::fs::create_dir_all(tmp.path().join("ro")).expect("ro dir");
    let read_only = PieceStore::filesystem(&FsStoreConfig {
        name: "fs-ro".into(),
        read_only: true,
        path: tmp.path().join("ro"),
    })
    .expect("fs store");
    assert!(writable.free_space().is_some_and(|f| f > 0));
    suite(writable, read_only, tmp.path()).await;
}

#[tokio::test]
async fn s3_stores_against_a_real_server() {
    let tmp = tempfile::tempdir().expect("tmp");
    let addr = start_s3(&tmp.path().join("s3")).await;
    let writable = PieceStore::s3(&s3_config(addr, "s3-rw", false)).expect("s3 store");
    let read_only = PieceStore::s3(&s3_config(addr, "s3-ro", true)).expect("s3 store");
    suite(writable, read_only, tmp.path()).await;
    // The object really is in the server's bucket, under the sub-directory.
    assert!(
        tmp.path()
            .join("s3/pieces/market/pieces")
            .join(format!("{PIECE}.car"))
            .exists()
    );
}

#[tokio::test]
async fn s3_with_wrong_credentials_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let addr = start_s3(&tmp.path().join("s3")).await;
    let mut cfg = s3_config(addr, "s3-bad", false);
    cfg.secret_key = "wrong".into();
    let store = PieceStore::s3(&cfg).expect("config is fine");
    let err = store.stat(PIECE).await.expect_err("refused");
    assert!(err.to_string().contains("s3-bad"), "{err}");
}

#[test]
fn config_errors_name_the_store() {
    let err = PieceStore::s3(&S3StoreConfig {
        name: "x".into(),
        ..Default::default()
    })
    .expect_err("no bucket");
    assert!(err.to_string().contains("Bucket"), "{err}");
    let err = PieceStore::filesystem(&FsStoreConfig {
        name: "ro".into(),
        read_only: true,
        path: "/nonexistent/droplet/pieces".into(),
    })
    .expect_err("missing dir");
    assert!(err.to_string().contains("/nonexistent/droplet/pieces"), "{err}");
}
