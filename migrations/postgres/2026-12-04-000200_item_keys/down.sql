DROP TRIGGER items_key_insert ON items;
DROP TRIGGER items_key_move ON items;
DROP TRIGGER items_key_inserted ON items;
DROP TRIGGER items_key_moved ON items;
DROP FUNCTION items_key_number();
DROP FUNCTION items_key_record();
DROP TRIGGER projects_item_numbers ON projects;
DROP FUNCTION projects_item_numbers();
DO $$
DECLARE
    project RECORD;
BEGIN
    FOR project IN SELECT id FROM projects LOOP
        EXECUTE format('DROP SEQUENCE IF EXISTS %I', 'item_numbers_' || project.id);
    END LOOP;
END
$$;
DROP TABLE item_keys;
ALTER TABLE items DROP COLUMN number;
ALTER TABLE projects DROP COLUMN item_numbers;
