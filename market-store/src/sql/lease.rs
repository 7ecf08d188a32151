//! Leases in the shared database: a name held by one daemon for a while, renewed while it
//! lives, taken over by another once it lapses. Time is the database's clock, so daemons on
//! different hosts agree on when a lease ran out.

use std::time::Duration;

use sqlx::Row;

use super::{Dialect, Sql};
use crate::StoreError;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The lease is ours until renewed or released.
    Held,
    /// Another daemon holds it for this much longer unless it renews.
    Taken { holder: String, expires_in: Duration },
}

/// A lease as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub expires_in: Duration,
}

struct Statements {
    insert: &'static str,
    take: &'static str,
    renew: &'static str,
    release: &'static str,
    read: &'static str,
    live: &'static str,
}

const MYSQL: Statements = Statements {
    insert: "INSERT IGNORE INTO market_leases (name, holder, expires_ms) \
             VALUES (?, ?, CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) + ?)",
    take: "UPDATE market_leases SET holder = ?, expires_ms = CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) + ? \
           WHERE name = ? AND (holder = ? OR expires_ms < CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED))",
    renew: "UPDATE market_leases SET expires_ms = CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) + ? \
            WHERE name = ? AND holder = ?",
    release: "DELETE FROM market_leases WHERE name = ? AND holder = ?",
    read: "SELECT holder, expires_ms - CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) FROM market_leases WHERE name = ?",
    live: "SELECT name, holder, expires_ms - CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) FROM market_leases \
           WHERE expires_ms >= CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) ORDER BY name",
};

const POSTGRES: Statements = Statements {
    insert: "INSERT INTO market_leases (name, holder, expires_ms) \
             VALUES ($1, $2, CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) + $3) \
             ON CONFLICT (name) DO NOTHING",
    take: "UPDATE market_leases SET holder = $1, expires_ms = CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) + $2 \
           WHERE name = $3 AND (holder = $4 OR expires_ms < CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT))",
    renew: "UPDATE market_leases SET expires_ms = CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) + $1 \
            WHERE name = $2 AND holder = $3",
    release: "DELETE FROM market_leases WHERE name = $1 AND holder = $2",
    read: "SELECT holder, expires_ms - CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) \
           FROM market_leases WHERE name = $1",
    live: "SELECT name, holder, expires_ms - CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) \
           FROM market_leases WHERE expires_ms >= CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) ORDER BY name",
};

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

impl Sql {
    fn lease_sql(&self) -> &'static Statements {
        match self.dialect() {
            Dialect::MySql => &MYSQL,
            Dialect::Postgres => &POSTGRES,
        }
    }

    /// Take the lease `name` for `holder` for `ttl`, if no one else holds it (or theirs has
    /// run out); renews it if `holder` has it already.
    pub fn claim(&self, name: &str, holder: &str, ttl: Duration) -> Result<Claim, StoreError> {
        let pool = self.pool().clone();
        let sql = self.lease_sql();
        let (name, holder) = (name.to_string(), holder.to_string());
        self.block(async move {
            sqlx::query(sql.insert)
                .bind(name.clone())
                .bind(holder.clone())
                .bind(ms(ttl))
                .execute(&pool)
                .await?;
            let took = sqlx::query(sql.take)
                .bind(holder.clone())
                .bind(ms(ttl))
                .bind(name.clone())
                .bind(holder)
                .execute(&pool)
                .await?;
            if took.rows_affected() == 1 {
                return Ok(Claim::Held);
            }
            let row = sqlx::query(sql.read).bind(name).fetch_optional(&pool).await?;
            Ok(match row {
                Some(r) => Claim::Taken {
                    holder: r.try_get::<String, _>(0)?,
                    expires_in: Duration::from_millis(r.try_get::<i64, _>(1)?.max(0) as u64),
                },
                // Released between the two statements: the next claim takes it.
                None => Claim::Taken {
                    holder: String::new(),
                    expires_in: Duration::ZERO,
                },
            })
        })
    }

    /// Extend a lease `holder` holds; false when it no longer holds it (it lapsed and another
    /// daemon took it).
    pub async fn renew(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let pool = self.pool().clone();
        let sql = self.lease_sql();
        let (name, holder) = (name.to_string(), holder.to_string());
        self.run(async move {
            let r = sqlx::query(sql.renew)
                .bind(ms(ttl))
                .bind(name)
                .bind(holder)
                .execute(&pool)
                .await?;
            Ok(r.rows_affected() == 1)
        })
        .await
    }

    /// Every lease held now (not lapsed): name, holder and how long it has left, by name.
    pub fn live(&self) -> Result<Vec<Lease>, StoreError> {
        let pool = self.pool().clone();
        let sql = self.lease_sql();
        self.block(async move {
            let rows = sqlx::query(sql.live).fetch_all(&pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(Lease {
                        name: r.try_get::<String, _>(0)?,
                        holder: r.try_get::<String, _>(1)?,
                        expires_in: Duration::from_millis(r.try_get::<i64, _>(2)?.max(0) as u64),
                    })
                })
                .collect()
        })
    }

    /// Who holds the lease `name` now, if anyone (a lapsed lease is no one's).
    pub fn holder_of(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.live()?.into_iter().find(|l| l.name == name).map(|l| l.holder))
    }

    /// Give a lease up (a clean stop), so another daemon need not wait for it to lapse.
    pub fn release(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let pool = self.pool().clone();
        let sql = self.lease_sql();
        let (name, holder) = (name.to_string(), holder.to_string());
        self.block(async move {
            sqlx::query(sql.release).bind(name).bind(holder).execute(&pool).await?;
            Ok(())
        })
    }
}
