//! The piece index in the market's SQL database (MySQL/MariaDB or PostgreSQL), beside the
//! store's records, so every droplet sharing the database sees every piece: a row per piece
//! (its record as JSON), per payload of a piece, and per block of a piece's CAR. The tables
//! come with the store's migrations (`market-store/migrations/*/0003_piece_index.sql`).
//!
//! A record changes under a row lock (`SELECT … FOR UPDATE`), so two droplets adding deals to
//! one piece at once both land; blocks and payloads are upserts, so indexing a piece again
//! writes the same rows.

use std::sync::Arc;

use cid::Cid;
use market_store::Store;
use market_store::sql::{Dialect, Sql};
use sqlx::Row;

use super::{BlockEntry, BlockLocation, IndexError, PieceRecord, RecordChange, corrupt_record};

/// Rows one block upsert writes (4 values each, well inside both servers' limits on
/// placeholders and packet size).
const BLOCK_ROWS: usize = 1_000;
/// Blocks read at a time when walking a piece's block index.
const BLOCK_PAGE: i64 = 10_000;

struct Statements {
    get: &'static str,
    seed: &'static str,
    lock: &'static str,
    set: &'static str,
    /// An upsert of payload rows: `payload_head` then `payload_row` per row, then `payload_tail`.
    payload_head: &'static str,
    payload_tail: &'static str,
    for_payload: &'static str,
    with_block: &'static str,
    /// An upsert of block rows: `block_head`, `block_row` per row, `block_tail`.
    block_head: &'static str,
    block_tail: &'static str,
    location: &'static str,
    blocks: &'static str,
    payloads: &'static str,
    pieces: &'static str,
}

const MYSQL: Statements = Statements {
    get: "SELECT record FROM piece_index_pieces WHERE piece = ?",
    seed: "INSERT IGNORE INTO piece_index_pieces (piece, record) VALUES (?, ?)",
    lock: "SELECT record FROM piece_index_pieces WHERE piece = ? FOR UPDATE",
    set: "UPDATE piece_index_pieces SET record = ? WHERE piece = ?",
    payload_head: "INSERT IGNORE INTO piece_index_payloads (payload, piece) VALUES ",
    payload_tail: "",
    for_payload: "SELECT piece FROM piece_index_payloads WHERE payload = ? ORDER BY piece",
    with_block: "SELECT piece FROM piece_index_blocks WHERE multihash = ? ORDER BY piece",
    block_head: "INSERT INTO piece_index_blocks (piece, multihash, car_offset, len) VALUES ",
    block_tail: " ON DUPLICATE KEY UPDATE car_offset = VALUES(car_offset), len = VALUES(len)",
    location: "SELECT car_offset, len FROM piece_index_blocks WHERE piece = ? AND multihash = ?",
    blocks: "SELECT multihash, car_offset, len FROM piece_index_blocks WHERE piece = ? AND multihash > ? \
             ORDER BY multihash LIMIT ?",
    payloads: "SELECT DISTINCT payload FROM piece_index_payloads ORDER BY payload",
    pieces: "SELECT piece FROM piece_index_pieces ORDER BY piece",
};

const POSTGRES: Statements = Statements {
    get: "SELECT record FROM piece_index_pieces WHERE piece = $1",
    seed: "INSERT INTO piece_index_pieces (piece, record) VALUES ($1, $2) ON CONFLICT (piece) DO NOTHING",
    lock: "SELECT record FROM piece_index_pieces WHERE piece = $1 FOR UPDATE",
    set: "UPDATE piece_index_pieces SET record = $1 WHERE piece = $2",
    payload_head: "INSERT INTO piece_index_payloads (payload, piece) VALUES ",
    payload_tail: " ON CONFLICT (payload, piece) DO NOTHING",
    for_payload: "SELECT piece FROM piece_index_payloads WHERE payload = $1 ORDER BY piece",
    with_block: "SELECT piece FROM piece_index_blocks WHERE multihash = $1 ORDER BY piece",
    block_head: "INSERT INTO piece_index_blocks (piece, multihash, car_offset, len) VALUES ",
    block_tail: " ON CONFLICT (piece, multihash) DO UPDATE SET car_offset = EXCLUDED.car_offset, len = EXCLUDED.len",
    location: "SELECT car_offset, len FROM piece_index_blocks WHERE piece = $1 AND multihash = $2",
    blocks: "SELECT multihash, car_offset, len FROM piece_index_blocks WHERE piece = $1 AND multihash > $2 \
             ORDER BY multihash LIMIT $3",
    payloads: "SELECT DISTINCT payload FROM piece_index_payloads ORDER BY payload",
    pieces: "SELECT piece FROM piece_index_pieces ORDER BY piece",
};

/// `rows` rows of `width` placeholders each, as the dialect numbers them: `(?, ?), (?, ?)` or
/// `($1, $2), ($3, $4)`.
fn placeholders(dialect: Dialect, rows: usize, width: usize) -> String {
    let mut s = String::with_capacity(rows * width * 5);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..width {
            if c > 0 {
                s.push_str(", ");
            }
            match dialect {
                Dialect::MySql => s.push('?'),
                Dialect::Postgres => {
                    s.push('$');
                    s.push_str(&(r * width + c + 1).to_string());
                }
            }
        }
        s.push(')');
    }
    s
}

/// A stored offset or length: BIGINT holds any a CAR can have.
fn to_db(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_db(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(super) struct SqlIndex {
    store: Arc<Store>,
    sql: &'static Statements,
}

impl std::fmt::Debug for SqlIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlIndex").field("at", &self.describe()).finish()
    }
}

/// A piece CID read back from a row.
fn cid_of(bytes: &[u8]) -> Result<Cid, IndexError> {
    Cid::try_from(bytes).map_err(|e| IndexError::Corrupt {
        piece: bytes.iter().map(|x| format!("{x:02x}")).collect(),
        reason: e.to_string(),
    })
}

impl SqlIndex {
    pub(super) fn new(store: Arc<Store>) -> Result<Self, IndexError> {
        let dialect = store.sql().ok_or(IndexError::NotSql)?.dialect();
        Ok(SqlIndex {
            store,
            sql: match dialect {
                Dialect::MySql => &MYSQL,
                Dialect::Postgres => &POSTGRES,
            },
        })
    }

    fn db(&self) -> &Sql {
        self.store
            .sql()
            .expect("the store was a SQL store when the index was made")
    }

    pub(super) fn describe(&self) -> String {
        self.db().describe()
    }

    /// A query's rows' first column as bytes.
    fn bytes_column(&self, query: &'static str, arg: Option<Vec<u8>>) -> Result<Vec<Vec<u8>>, IndexError> {
        let pool = self.db().pool().clone();
        Ok(self.db().block(async move {
            let mut q = sqlx::query(query);
            if let Some(arg) = arg {
                q = q.bind(arg);
            }
            let rows = q.fetch_all(&pool).await?;
            rows.iter().map(|r| r.try_get::<Vec<u8>, _>(0)).collect()
        })?)
    }

    pub(super) fn piece(&self, piece: &Cid) -> Result<Option<PieceRecord>, IndexError> {
        match self.bytes_column(self.sql.get, Some(piece.to_bytes()))?.first() {
            None => Ok(None),
            Some(v) => serde_json::from_slice(v)
                .map(Some)
                .map_err(|e| corrupt_record(piece, e)),
        }
    }

    pub(super) fn update(&self, piece: &Cid, change: RecordChange) -> Result<(), IndexError> {
        let pool = self.db().pool().clone();
        let sql = self.sql;
        let key = piece.to_bytes();
        let empty = serde_json::to_vec(&PieceRecord::default()).expect("records serialise");
        let cid = *piece;
        self.db().block(async move {
            // The row exists before the transaction locks it: an insert of a row another
            // transaction is inserting too would take a shared lock there, and two such
            // transactions would deadlock on their updates.
            sqlx::query(sql.seed)
                .bind(key.clone())
                .bind(empty)
                .execute(&pool)
                .await?;
            let mut tx = pool.begin().await?;
            let row = sqlx::query(sql.lock).bind(key.clone()).fetch_one(&mut *tx).await?;
            let mut record: PieceRecord = match serde_json::from_slice(&row.try_get::<Vec<u8>, _>(0)?) {
                Ok(r) => r,
                Err(e) => return Ok(Err(corrupt_record(&cid, e))),
            };
            change(&mut record);
            let value = serde_json::to_vec(&record).expect("records serialise");
            sqlx::query(sql.set).bind(value).bind(key).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(Ok(()))
        })?
    }

    pub(super) fn add_payloads(&self, payloads: &[Vec<u8>], piece: &Cid) -> Result<(), IndexError> {
        if payloads.is_empty() {
            return Ok(());
        }
        let text = format!(
            "{}{}{}",
            self.sql.payload_head,
            placeholders(self.db().dialect(), payloads.len(), 2),
            self.sql.payload_tail
        );
        let pool = self.db().pool().clone();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = payloads.iter().map(|p| (p.clone(), piece.to_bytes())).collect();
        Ok(self.db().block(async move {
            // The text is this module's constants and placeholders, never outside input.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(text));
            for (payload, piece) in rows {
                q = q.bind(payload).bind(piece);
            }
            q.execute(&pool).await.map(|_| ())
        })?)
    }

    pub(super) fn pieces_for_payload(&self, payload: &[u8]) -> Result<Vec<Cid>, IndexError> {
        self.bytes_column(self.sql.for_payload, Some(payload.to_vec()))?
            .iter()
            .map(|b| cid_of(b))
            .collect()
    }

    pub(super) fn pieces_with_block(&self, multihash: &[u8]) -> Result<Vec<Cid>, IndexError> {
        self.bytes_column(self.sql.with_block, Some(multihash.to_vec()))?
            .iter()
            .map(|b| cid_of(b))
            .collect()
    }

    /// The blocks in upserts of [`BLOCK_ROWS`] rows, in one transaction.
    pub(super) fn put_blocks(&self, piece: &Cid, blocks: &[BlockEntry]) -> Result<(), IndexError> {
        let dialect = self.db().dialect();
        let sql = self.sql;
        let statements: Vec<(String, Vec<BlockEntry>)> = blocks
            .chunks(BLOCK_ROWS)
            .map(|rows| {
                let text = format!(
                    "{}{}{}",
                    sql.block_head,
                    placeholders(dialect, rows.len(), 4),
                    sql.block_tail
                );
                (text, rows.to_vec())
            })
            .collect();
        let pool = self.db().pool().clone();
        let key = piece.to_bytes();
        Ok(self.db().block(async move {
            let mut tx = pool.begin().await?;
            for (text, rows) in statements {
                // The text is this module's constants and placeholders, never outside input.
                let mut q = sqlx::query(sqlx::AssertSqlSafe(text));
                for b in rows {
                    q = q
                        .bind(key.clone())
                        .bind(b.multihash)
                        .bind(to_db(b.offset))
                        .bind(to_db(b.len));
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        })?)
    }

    pub(super) fn block_location(&self, piece: &Cid, multihash: &[u8]) -> Result<Option<BlockLocation>, IndexError> {
        let pool = self.db().pool().clone();
        let q = self.sql.location;
        let (key, mh) = (piece.to_bytes(), multihash.to_vec());
        let row = self.db().block(async move {
            let row = sqlx::query(q).bind(key).bind(mh).fetch_optional(&pool).await?;
            row.map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)))
                .transpose()
        })?;
        Ok(row.map(|(offset, len)| BlockLocation {
            offset: from_db(offset),
            len: from_db(len),
        }))
    }

    /// A page of [`BLOCK_PAGE`] blocks at a time, each after the last one seen.
    pub(super) fn for_each_block<E: From<IndexError>>(
        &self,
        piece: &Cid,
        f: &mut impl FnMut(BlockEntry) -> Result<(), E>,
    ) -> Result<(), E> {
        let key = piece.to_bytes();
        let mut after: Vec<u8> = Vec::new();
        loop {
            let pool = self.db().pool().clone();
            let q = self.sql.blocks;
            let (key, from) = (key.clone(), after.clone());
            let page = self
                .db()
                .block(async move {
                    let rows = sqlx::query(q)
                        .bind(key)
                        .bind(from)
                        .bind(BLOCK_PAGE)
                        .fetch_all(&pool)
                        .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(BlockEntry {
                                multihash: r.try_get::<Vec<u8>, _>(0)?,
                                offset: from_db(r.try_get::<i64, _>(1)?),
                                len: from_db(r.try_get::<i64, _>(2)?),
                            })
                        })
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                })
                .map_err(IndexError::from)?;
            let full = page.len() as i64 == BLOCK_PAGE;
            let mut last = None;
            for b in page {
                last = Some(b.multihash.clone());
                f(b)?;
            }
            match last {
                Some(mh) if full => after = mh,
                _ => return Ok(()),
            }
        }
    }

    pub(super) fn payloads(&self) -> Result<Vec<Cid>, IndexError> {
        self.bytes_column(self.sql.payloads, None)?
            .iter()
            .map(|b| cid_of(b))
            .collect()
    }

    /// Removes every row of the index's tables, in one transaction.
    pub(super) fn clear(&self) -> Result<(), IndexError> {
        let pool = self.db().pool().clone();
        Ok(self.db().block(async move {
            let mut tx = pool.begin().await?;
            for table in ["piece_index_blocks", "piece_index_payloads", "piece_index_pieces"] {
                // The text is this module's constants, never outside input.
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })?)
    }

    pub(super) fn pieces(&self) -> Result<Vec<Cid>, IndexError> {
        self.bytes_column(self.sql.pieces, None)?
            .iter()
            .map(|b| cid_of(b))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_as_the_dialect_wants() {
        assert_eq!(placeholders(Dialect::MySql, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(placeholders(Dialect::Postgres, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(Dialect::Postgres, 1, 1), "($1)");
    }
}
