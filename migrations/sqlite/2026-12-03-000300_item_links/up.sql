-- Links between items (src/model/link.rs): one row per pair and kind, read from both sides.
-- A directed kind reads "source <kind> target" (source blocks target); `relates` has no
-- direction and keeps the lower id as its source, so that the pair index refuses it twice.
CREATE TABLE item_links (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('relates', 'duplicates', 'blocks', 'precedes', 'copied_to')),
    source_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    target_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CHECK (source_id <> target_id)
);
CREATE UNIQUE INDEX item_links_pair ON item_links(source_id, target_id, kind);
CREATE INDEX item_links_target ON item_links(target_id, kind);
