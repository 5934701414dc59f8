DROP TRIGGER items_key_insert;
DROP TRIGGER items_key_move;
DROP INDEX item_keys_item;
DROP TABLE item_keys;
ALTER TABLE items DROP COLUMN number;
ALTER TABLE projects DROP COLUMN item_numbers;
