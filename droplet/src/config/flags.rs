//! `run --piecestorage` in the Go droplet's forms.

use super::{FsStorage, PieceStorageConfig, S3Storage};

/// A store given by `run --piecestorage`, in the Go droplet's forms: `fs:<path>`, or
/// `s3:<access key>:<secret key>[:<token>]@<scheme>://<region>.<host>/<bucket>[/<subdir>]`.
/// A bare path is taken as `fs:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PieceStorageFlag {
    Fs(std::path::PathBuf),
    S3(S3Storage),
}

/// Why a `--piecestorage` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--piecestorage {value:?}: {reason} (use fs:<path> or s3:<access key>:<secret key>[:<token>]@https://<region>.<host>/<bucket>)"
)]
pub struct PieceStorageFlagError {
    pub value: String,
    pub reason: String,
}

impl PieceStorageFlag {
    pub fn parse(value: &str) -> Result<Self, PieceStorageFlagError> {
        let err = |reason: &str| PieceStorageFlagError {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        if let Some(path) = value.strip_prefix("fs:") {
            if path.is_empty() {
                return Err(err("the path is empty"));
            }
            return Ok(PieceStorageFlag::Fs(path.into()));
        }
        let Some(dsn) = value.strip_prefix("s3:") else {
            if value.starts_with('/') || value.starts_with('.') {
                return Ok(PieceStorageFlag::Fs(value.into()));
            }
            return Err(err("unknown kind of store"));
        };
        let (auth, endpoint) = match dsn.split('@').collect::<Vec<_>>()[..] {
            [a, e] => (a, e),
            _ => return Err(err("expected exactly one @ between the keys and the endpoint")),
        };
        let (access_key, secret_key, token) = match auth.split(':').collect::<Vec<_>>()[..] {
            [a, s] => (a, s, ""),
            [a, s, t] => (a, s, t),
            _ => return Err(err("expected <access key>:<secret key>[:<token>] before the @")),
        };
        let (scheme, rest) = endpoint
            .split_once("://")
            .ok_or_else(|| err("the endpoint needs a scheme (https:// or http://)"))?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.split('.').count() < 2 {
            return Err(err("the endpoint's host must start with the region (<region>.<host>)"));
        }
        let path = path.trim_matches('/');
        if path.is_empty() {
            return Err(err("the endpoint must end with /<bucket>"));
        }
        let (bucket, sub_dir) = path.split_once('/').unwrap_or((path, ""));
        Ok(PieceStorageFlag::S3(S3Storage {
            name: String::new(),
            read_only: false,
            end_point: format!("{scheme}://{host}"),
            bucket: bucket.to_string(),
            sub_dir: sub_dir.to_string(),
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            token: token.to_string(),
        }))
    }

    /// Add the store to `cfg` unless a store of the same place is there already.
    pub fn add_to(self, cfg: &mut PieceStorageConfig) {
        match self {
            PieceStorageFlag::Fs(path) => {
                if !cfg.fs.iter().any(|s| s.path == path) {
                    let name = format!("fs-{}", cfg.fs.len());
                    cfg.fs.push(FsStorage {
                        name,
                        read_only: false,
                        path,
                    });
                }
            }
            PieceStorageFlag::S3(mut s3) => {
                if !cfg
                    .s3
                    .iter()
                    .any(|s| s.end_point == s3.end_point && s.bucket == s3.bucket && s.sub_dir == s3.sub_dir)
                {
                    s3.name = format!("s3-{}", cfg.s3.len());
                    cfg.s3.push(s3);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_s_piecestorage_flag_forms_are_understood() {
        assert_eq!(
            PieceStorageFlag::parse("fs:/mnt/piece"),
            Ok(PieceStorageFlag::Fs("/mnt/piece".into()))
        );
        let PieceStorageFlag::S3(s3) =
            PieceStorageFlag::parse("s3:AK:SK:TOK@https://us-east-1.s3.example.com/pieces/market-a").expect("s3")
        else {
            panic!("not s3");
        };
        assert_eq!(
            (
                s3.access_key.as_str(),
                s3.secret_key.as_str(),
                s3.token.as_str(),
                s3.end_point.as_str(),
                s3.bucket.as_str(),
                s3.sub_dir.as_str()
            ),
            (
                "AK",
                "SK",
                "TOK",
                "https://us-east-1.s3.example.com",
                "pieces",
                "market-a"
            )
        );
        let PieceStorageFlag::S3(no_token) =
            PieceStorageFlag::parse("s3:AK:SK@http://cn-east.oss.local:9000/bucket").expect("s3")
        else {
            panic!("not s3");
        };
        assert_eq!((no_token.token.as_str(), no_token.bucket.as_str()), ("", "bucket"));
        for bad in [
            "s3:AK@https://r.h/b",
            "s3:AK:SK@https://localhost/b",
            "s3:AK:SK@https://r.h",
            "s3:AK:SK@r.h/b",
            "oss:x",
            "fs:",
        ] {
            assert!(PieceStorageFlag::parse(bad).is_err(), "{bad}");
        }
        let mut cfg = PieceStorageConfig::default();
        PieceStorageFlag::parse("fs:/mnt/piece").expect("fs").add_to(&mut cfg);
        PieceStorageFlag::parse("fs:/mnt/piece").expect("fs").add_to(&mut cfg);
        assert_eq!(cfg.fs.len(), 1, "the same store is added once");
        assert_eq!(
            cfg.fs[0].path,
            std::path::PathBuf::from("/mnt/piece"),
            "not the literal fs:/mnt/piece"
        );
    }
}
