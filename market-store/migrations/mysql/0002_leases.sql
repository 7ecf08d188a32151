-- Leases: a name ("droplet", later "miner/<addr>") held by one daemon until expires_ms (the
-- database's clock, milliseconds since 1970), renewed while it lives.
CREATE TABLE IF NOT EXISTS market_leases (
    name VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    holder VARCHAR(255) NOT NULL,
    expires_ms BIGINT NOT NULL
) ENGINE = InnoDB;
