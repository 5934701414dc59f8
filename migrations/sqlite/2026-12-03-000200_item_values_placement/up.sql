-- Each value carries its item's project and status, so that a list of one project filtered or
-- sorted by a field walks one index of that project's values (and counts a condition within a
-- status from the index alone) instead of looking up every item of every project.
-- Kept equal to the item's in the same transaction: the writer of a value supplies them, and
-- the triggers below follow a change of the item and fill them in for a node of the previous
-- release, which writes values without them.
ALTER TABLE item_values ADD COLUMN project_id BIGINT;
ALTER TABLE item_values ADD COLUMN status_id BIGINT;
UPDATE item_values SET
    project_id = (SELECT project_id FROM items WHERE items.id = item_values.item_id),
    status_id = (SELECT status_id FROM items WHERE items.id = item_values.item_id);

CREATE TRIGGER item_values_follow_item AFTER UPDATE OF project_id, status_id ON items
    WHEN OLD.project_id <> NEW.project_id OR OLD.status_id <> NEW.status_id
BEGIN
    UPDATE item_values SET project_id = NEW.project_id, status_id = NEW.status_id WHERE item_id = NEW.id;
END;
CREATE TRIGGER item_values_placed AFTER INSERT ON item_values
    WHEN NEW.project_id IS NULL OR NEW.status_id IS NULL
BEGIN
    UPDATE item_values SET
        project_id = (SELECT project_id FROM items WHERE items.id = NEW.item_id),
        status_id = (SELECT status_id FROM items WHERE items.id = NEW.item_id)
    WHERE id = NEW.id;
END;

-- One index per value type within a project: lists of one project walk or count it, and a
-- lookup of an item's value seeks it with the item's project. Values that sort as stored also
-- keep their index across projects (a sort over several projects walks it); choices and users
-- do not sort by their stored id, so their cross-project indexes go.
DROP INDEX item_values_choice;
DROP INDEX item_values_user;
CREATE INDEX item_values_project_text ON item_values(field_id, project_id, text_value, item_id, status_id)
    WHERE text_value IS NOT NULL;
CREATE INDEX item_values_project_int ON item_values(field_id, project_id, int_value, item_id, status_id)
    WHERE int_value IS NOT NULL;
CREATE INDEX item_values_project_decimal ON item_values(field_id, project_id, decimal_value, item_id, status_id)
    WHERE decimal_value IS NOT NULL;
CREATE INDEX item_values_project_date ON item_values(field_id, project_id, date_value, item_id, status_id)
    WHERE date_value IS NOT NULL;
CREATE INDEX item_values_project_bool ON item_values(field_id, project_id, bool_value, item_id, status_id)
    WHERE bool_value IS NOT NULL;
CREATE INDEX item_values_project_choice ON item_values(field_id, project_id, choice_id, item_id, status_id)
    WHERE choice_id IS NOT NULL;
CREATE INDEX item_values_project_user ON item_values(field_id, project_id, user_id, item_id, status_id)
    WHERE user_id IS NOT NULL;

-- Items per choice, user or yes/no value of a field, per project and status, kept exact by
-- triggers in the same transaction as every change of a value (and so of its item's project
-- and status), so that the total of a list of one project filtered by such a value sums a few
-- rows instead of counting values. Striped by item id (32 rows where `item_totals` has 8: a
-- create touches one row per such value, so concurrent creates would meet more often).
CREATE TABLE value_totals (
    field_id BIGINT NOT NULL,
    project_id BIGINT NOT NULL,
    value_key BIGINT NOT NULL,
    status_id BIGINT NOT NULL,
    stripe INTEGER NOT NULL,
    items BIGINT NOT NULL,
    PRIMARY KEY (field_id, project_id, value_key, status_id, stripe)
);
INSERT INTO value_totals (field_id, project_id, value_key, status_id, stripe, items)
    SELECT field_id, project_id, COALESCE(choice_id, user_id, bool_value), status_id, item_id % 32, COUNT(*)
    FROM item_values
    WHERE project_id IS NOT NULL AND COALESCE(choice_id, user_id, bool_value) IS NOT NULL
    GROUP BY field_id, project_id, COALESCE(choice_id, user_id, bool_value), status_id, item_id % 32;

CREATE TRIGGER value_totals_insert AFTER INSERT ON item_values
    WHEN NEW.project_id IS NOT NULL AND COALESCE(NEW.choice_id, NEW.user_id, NEW.bool_value) IS NOT NULL
BEGIN
    INSERT INTO value_totals (field_id, project_id, value_key, status_id, stripe, items)
        VALUES (NEW.field_id, NEW.project_id, COALESCE(NEW.choice_id, NEW.user_id, NEW.bool_value), NEW.status_id,
                NEW.item_id % 32, 1)
        ON CONFLICT (field_id, project_id, value_key, status_id, stripe) DO UPDATE SET items = items + 1;
END;
CREATE TRIGGER value_totals_delete AFTER DELETE ON item_values
    WHEN OLD.project_id IS NOT NULL AND COALESCE(OLD.choice_id, OLD.user_id, OLD.bool_value) IS NOT NULL
BEGIN
    UPDATE value_totals SET items = items - 1
        WHERE field_id = OLD.field_id AND project_id = OLD.project_id
          AND value_key = COALESCE(OLD.choice_id, OLD.user_id, OLD.bool_value)
          AND status_id = OLD.status_id AND stripe = OLD.item_id % 32;
END;
CREATE TRIGGER value_totals_update AFTER UPDATE OF project_id, status_id, choice_id, user_id, bool_value ON item_values
    WHEN COALESCE(NEW.choice_id, NEW.user_id, NEW.bool_value, OLD.choice_id, OLD.user_id, OLD.bool_value) IS NOT NULL
BEGIN
    UPDATE value_totals SET items = items - 1
        WHERE OLD.project_id IS NOT NULL AND field_id = OLD.field_id AND project_id = OLD.project_id
          AND value_key = COALESCE(OLD.choice_id, OLD.user_id, OLD.bool_value)
          AND status_id = OLD.status_id AND stripe = OLD.item_id % 32;
    INSERT INTO value_totals (field_id, project_id, value_key, status_id, stripe, items)
        SELECT NEW.field_id, NEW.project_id, COALESCE(NEW.choice_id, NEW.user_id, NEW.bool_value), NEW.status_id,
               NEW.item_id % 32, 1
        WHERE NEW.project_id IS NOT NULL AND COALESCE(NEW.choice_id, NEW.user_id, NEW.bool_value) IS NOT NULL
        ON CONFLICT (field_id, project_id, value_key, status_id, stripe) DO UPDATE SET items = items + 1;
END;
