DROP TRIGGER projects_facts;
DROP TRIGGER statuses_facts;
DROP TRIGGER items_facts_delete;
DROP TRIGGER items_facts_update;
DROP TABLE item_facts_version;
