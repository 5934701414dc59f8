-- Indexes for lists that the first ones served badly (figures for 100,000 items, a person
-- with 5,000 of them; docs/benchmarks.md). Nodes of the previous release run unchanged on them.
--
-- A person's items, latest first ("assigned to me" on the home page, "reported by me"): the
-- index by assignee or reporter alone made the database read every item of the person and sort
-- them for a page of ten (17-25 ms), and count them row by row. Ordered by update within the
-- person, with the status beside, the page walks the index and stops after it, and the count
-- reads the index alone. They begin with the old indexes' column, so they serve every lookup
-- those did.
DROP INDEX items_assignee;
DROP INDEX items_reporter;
CREATE INDEX items_assignee_updated ON items(assignee_id, updated_at, id, status_id);
CREATE INDEX items_reporter_updated ON items(reporter_id, updated_at, id, status_id);

-- A list's total by type, priority or assignee (with or without a project and a state) counted
-- the items' rows, 7-46 ms on PostgreSQL; with these columns in the index by project and
-- status, which they extend, it counts index entries (0.2-1.5 ms). It replaces the narrower
-- index, so an item keeps as many index entries.
DROP INDEX items_project_status;
CREATE INDEX items_project_status_kinds ON items(project_id, status_id, type_id, priority_id, assignee_id);

-- The price is SQLite's: an update there rewrites the index entries whose columns it changes,
-- and every update changes `updated_at`, now in the two indexes by person too, and a change of
-- type, priority or assignee moves the entry by project and status (an update of an item's
-- priority and title, one at a time: 0.84-0.87 → 0.96-0.99 ms). PostgreSQL writes new entries
-- in every index on each update of an item anyway (the indexes by update hold `updated_at`).
