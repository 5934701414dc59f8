DROP TRIGGER projects_facts ON projects;
DROP TRIGGER statuses_facts ON statuses;
DROP TRIGGER items_facts_delete ON items;
DROP TRIGGER items_facts_update ON items;
DROP FUNCTION item_facts_bump();
DROP TABLE item_facts_version;
