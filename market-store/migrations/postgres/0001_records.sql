-- Every record the daemon keeps, as RocksDB holds it: a table ("deal/", "paych-in/", …), a key
-- within it compared byte by byte, and the CBOR or JSON value.
CREATE TABLE IF NOT EXISTS market_records (
    tbl VARCHAR(64) COLLATE "C" NOT NULL,
    k BYTEA NOT NULL,
    v BYTEA NOT NULL,
    PRIMARY KEY (tbl, k)
);
