-- Every record the daemon keeps, as RocksDB holds it: a table ("deal/", "paych-in/", …), a key
-- within it compared byte by byte, and the CBOR or JSON value.
CREATE TABLE IF NOT EXISTS market_records (
    tbl VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    k VARBINARY(1024) NOT NULL,
    v LONGBLOB NOT NULL,
    PRIMARY KEY (tbl, k)
) ENGINE = InnoDB;
