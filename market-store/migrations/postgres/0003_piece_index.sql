-- The piece index, shared by every droplet on the database: a piece's record (its deals and
-- locations, as JSON), the payloads (DAG roots) each piece holds, and where each block of a
-- piece's CAR sits, with the pieces holding a block found by its multihash. CIDs and
-- multihashes are their bytes (digests of at most 128 bytes).
CREATE TABLE IF NOT EXISTS piece_index_pieces (
    piece BYTEA NOT NULL PRIMARY KEY,
    record BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS piece_index_payloads (
    payload BYTEA NOT NULL,
    piece BYTEA NOT NULL,
    PRIMARY KEY (payload, piece)
);
CREATE TABLE IF NOT EXISTS piece_index_blocks (
    piece BYTEA NOT NULL,
    multihash BYTEA NOT NULL,
    car_offset BIGINT NOT NULL,
    len BIGINT NOT NULL,
    PRIMARY KEY (piece, multihash)
);
CREATE INDEX IF NOT EXISTS piece_index_blocks_by_multihash ON piece_index_blocks (multihash, piece);
