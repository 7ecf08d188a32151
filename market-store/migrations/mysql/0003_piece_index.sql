-- The piece index, shared by every droplet on the database: a piece's record (its deals and
-- locations, as JSON), the payloads (DAG roots) each piece holds, and where each block of a
-- piece's CAR sits, with the pieces holding a block found by its multihash. CIDs and
-- multihashes are their bytes (digests of at most 128 bytes).
CREATE TABLE IF NOT EXISTS piece_index_pieces (
    piece VARBINARY(255) NOT NULL PRIMARY KEY,
    record LONGBLOB NOT NULL
) ENGINE = InnoDB;
CREATE TABLE IF NOT EXISTS piece_index_payloads (
    payload VARBINARY(255) NOT NULL,
    piece VARBINARY(255) NOT NULL,
    PRIMARY KEY (payload, piece)
) ENGINE = InnoDB;
CREATE TABLE IF NOT EXISTS piece_index_blocks (
    piece VARBINARY(255) NOT NULL,
    multihash VARBINARY(255) NOT NULL,
    car_offset BIGINT NOT NULL,
    len BIGINT NOT NULL,
    PRIMARY KEY (piece, multihash),
    KEY piece_index_blocks_by_multihash (multihash, piece)
) ENGINE = InnoDB;
