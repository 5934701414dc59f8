-- Items per (project, status), kept exact by triggers in the same transaction as every
-- change of items, so list totals need not count rows. Striped by item id (8 rows per
-- project and status) so that concurrent writers in one project rarely wait on one row.
CREATE TABLE item_totals (
    project_id BIGINT NOT NULL,
    status_id BIGINT NOT NULL,
    stripe INTEGER NOT NULL,
    items BIGINT NOT NULL,
    PRIMARY KEY (project_id, status_id, stripe)
);

INSERT INTO item_totals (project_id, status_id, stripe, items)
    SELECT project_id, status_id, id % 8, COUNT(*) FROM items GROUP BY project_id, status_id, id % 8;

CREATE TRIGGER item_totals_after_insert AFTER INSERT ON items
BEGIN
    INSERT INTO item_totals (project_id, status_id, stripe, items) VALUES (NEW.project_id, NEW.status_id, NEW.id % 8, 1)
        ON CONFLICT (project_id, status_id, stripe) DO UPDATE SET items = items + 1;
END;

CREATE TRIGGER item_totals_after_update AFTER UPDATE OF project_id, status_id ON items
    WHEN OLD.project_id <> NEW.project_id OR OLD.status_id <> NEW.status_id
BEGIN
    UPDATE item_totals SET items = items - 1
        WHERE project_id = OLD.project_id AND status_id = OLD.status_id AND stripe = OLD.id % 8;
    INSERT INTO item_totals (project_id, status_id, stripe, items) VALUES (NEW.project_id, NEW.status_id, NEW.id % 8, 1)
        ON CONFLICT (project_id, status_id, stripe) DO UPDATE SET items = items + 1;
END;

CREATE TRIGGER item_totals_after_delete AFTER DELETE ON items
BEGIN
    UPDATE item_totals SET items = items - 1
        WHERE project_id = OLD.project_id AND status_id = OLD.status_id AND stripe = OLD.id % 8;
END;
