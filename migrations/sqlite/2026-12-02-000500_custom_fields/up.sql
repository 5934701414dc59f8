-- Custom fields: definitions (src/model/field.rs) and typed values per item
-- (src/model/field/value.rs). A value row holds its value in the column of its field's type,
-- so filters and sorts compare numbers as numbers and dates as dates, through the partial
-- index of that column. Choices are rows of their own: renaming or retiring one touches no
-- item row. A field's projects and item types are listed only when it does not apply to all.
CREATE TABLE fields (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    field_type TEXT NOT NULL,
    required BOOLEAN NOT NULL DEFAULT 0,
    default_value TEXT,
    all_projects BOOLEAN NOT NULL DEFAULT 1,
    all_types BOOLEAN NOT NULL DEFAULT 1,
    position INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE field_choices (
    id INTEGER PRIMARY KEY,
    field_id BIGINT NOT NULL REFERENCES fields(id) ON DELETE CASCADE,
    value TEXT NOT NULL,
    position INTEGER NOT NULL,
    retired BOOLEAN NOT NULL DEFAULT 0
);
CREATE INDEX field_choices_field ON field_choices(field_id, position);

CREATE TABLE field_projects (
    field_id BIGINT NOT NULL REFERENCES fields(id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    PRIMARY KEY (field_id, project_id)
);

CREATE TABLE field_types (
    field_id BIGINT NOT NULL REFERENCES fields(id) ON DELETE CASCADE,
    type_id BIGINT NOT NULL REFERENCES item_types(id) ON DELETE CASCADE,
    PRIMARY KEY (field_id, type_id)
);

CREATE TABLE item_values (
    id INTEGER PRIMARY KEY,
    item_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    field_id BIGINT NOT NULL REFERENCES fields(id) ON DELETE CASCADE,
    text_value TEXT,
    long_value TEXT,
    int_value BIGINT,
    decimal_value DOUBLE PRECISION,
    date_value DATE,
    bool_value BOOLEAN,
    choice_id BIGINT REFERENCES field_choices(id),
    user_id BIGINT REFERENCES users(id)
);
CREATE INDEX item_values_item ON item_values(item_id, field_id);
CREATE INDEX item_values_text ON item_values(field_id, text_value, item_id) WHERE text_value IS NOT NULL;
CREATE INDEX item_values_int ON item_values(field_id, int_value, item_id) WHERE int_value IS NOT NULL;
CREATE INDEX item_values_decimal ON item_values(field_id, decimal_value, item_id) WHERE decimal_value IS NOT NULL;
CREATE INDEX item_values_date ON item_values(field_id, date_value, item_id) WHERE date_value IS NOT NULL;
CREATE INDEX item_values_bool ON item_values(field_id, bool_value, item_id) WHERE bool_value IS NOT NULL;
CREATE INDEX item_values_choice ON item_values(field_id, choice_id, item_id) WHERE choice_id IS NOT NULL;
CREATE INDEX item_values_user ON item_values(field_id, user_id, item_id) WHERE user_id IS NOT NULL;
