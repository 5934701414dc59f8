-- Each value carries its item's project and status, so that a list of one project filtered or
-- sorted by a field walks one index of that project's values (and counts a choice within a
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
