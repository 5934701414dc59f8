//! The one portable schema for both backends. Both `migrations/sqlite` and
//! `migrations/postgres` must produce exactly these tables and column types.

diesel::table! {
    users (id) {
        id -> BigInt,
        login -> Text,
        name -> Text,
        email -> Text,
        password_hash -> Text,
        is_admin -> Bool,
        active -> Bool,
        email_notifications -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        notify_scope -> Text,
        notify_events -> Text,
        notify_own -> Bool,
        watch_when_mentioned -> Bool,
        notify_digest -> Bool,
        time_zone -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        login -> Text,
        address -> Text,
        failed_at -> Timestamp,
    }
}

diesel::table! {
    projects (id) {
        id -> BigInt,
        key -> Text,
        name -> Text,
        description -> Text,
        is_public -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        item_numbers -> BigInt,
    }
}

diesel::table! {
    memberships (project_id, user_id) {
        project_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
    }
}

diesel::table! {
    item_types (id) {
        id -> BigInt,
        name -> Text,
        position -> Integer,
        own_transitions -> Bool,
    }
}

diesel::table! {
    project_types (project_id, type_id) {
        project_id -> BigInt,
        type_id -> BigInt,
    }
}

diesel::table! {
    type_transitions (type_id, from_status_id, to_status_id) {
        type_id -> BigInt,
        from_status_id -> BigInt,
        to_status_id -> BigInt,
    }
}

diesel::table! {
    statuses (id) {
        id -> BigInt,
        name -> Text,
        is_closed -> Bool,
        position -> Integer,
    }
}

diesel::table! {
    transitions (from_status_id, to_status_id) {
        from_status_id -> BigInt,
        to_status_id -> BigInt,
    }
}

diesel::table! {
    priorities (id) {
        id -> BigInt,
        name -> Text,
        position -> Integer,
    }
}

diesel::table! {
    items (id) {
        id -> BigInt,
        project_id -> BigInt,
        type_id -> BigInt,
        status_id -> BigInt,
        priority_id -> BigInt,
        title -> Text,
        description -> Text,
        reporter_id -> BigInt,
        assignee_id -> Nullable<BigInt>,
        due_date -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        parent_id -> Nullable<BigInt>,
        children_count -> BigInt,
        target_version_id -> Nullable<BigInt>,
        component_id -> Nullable<BigInt>,
        number -> BigInt,
        field_values -> Nullable<Text>,
        label_ids -> Nullable<Text>,
    }
}

diesel::table! {
    item_keys (project_id, number) {
        project_id -> BigInt,
        number -> BigInt,
        item_id -> BigInt,
    }
}

diesel::table! {
    versions (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        name_key -> Text,
        description -> Text,
        due_date -> Nullable<Date>,
        status -> Text,
        shared -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    labels (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        name_key -> Text,
        color -> Text,
    }
}

diesel::table! {
    item_labels (item_id, label_id) {
        item_id -> BigInt,
        label_id -> BigInt,
    }
}

diesel::table! {
    components (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        name_key -> Text,
        description -> Text,
        default_assignee_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    comments (id) {
        id -> BigInt,
        item_id -> BigInt,
        author_id -> BigInt,
        body -> Text,
        created_at -> Timestamp,
        edited_at -> Nullable<Timestamp>,
        edited_by -> Nullable<BigInt>,
        deleted_at -> Nullable<Timestamp>,
        deleted_by -> Nullable<BigInt>,
        private -> Bool,
    }
}

diesel::table! {
    comment_versions (id) {
        id -> BigInt,
        comment_id -> BigInt,
        body -> Text,
        written_by -> BigInt,
        written_at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        item_id -> BigInt,
        comment_id -> Nullable<BigInt>,
        uploader_id -> BigInt,
        file_name -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    attachment_orphans (sha256) {
        sha256 -> Text,
        orphaned_at -> Timestamp,
    }
}

diesel::table! {
    watchers (item_id, user_id) {
        item_id -> BigInt,
        user_id -> BigInt,
    }
}

diesel::table! {
    item_links (id) {
        id -> BigInt,
        kind -> Text,
        source_id -> BigInt,
        target_id -> BigInt,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    history (id) {
        id -> BigInt,
        item_id -> BigInt,
        user_id -> BigInt,
        changed_at -> Timestamp,
        field -> Text,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
    }
}

diesel::table! {
    index_queue (id) {
        id -> BigInt,
        item_id -> BigInt,
        enqueued_at -> Timestamp,
    }
}

diesel::table! {
    field_catalog_version (id) {
        id -> Integer,
        database_key -> Text,
        version -> BigInt,
    }
}

diesel::table! {
    item_facts_version (id) {
        id -> Integer,
        database_key -> Text,
        version -> BigInt,
    }
}

diesel::table! {
    fields (id) {
        id -> BigInt,
        key -> Text,
        name -> Text,
        description -> Text,
        field_type -> Text,
        required -> Bool,
        default_value -> Nullable<Text>,
        all_projects -> Bool,
        all_types -> Bool,
        position -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    field_choices (id) {
        id -> BigInt,
        field_id -> BigInt,
        value -> Text,
        position -> Integer,
        retired -> Bool,
    }
}

diesel::table! {
    field_projects (field_id, project_id) {
        field_id -> BigInt,
        project_id -> BigInt,
    }
}

diesel::table! {
    field_types (field_id, type_id) {
        field_id -> BigInt,
        type_id -> BigInt,
    }
}

diesel::table! {
    item_values (id) {
        id -> BigInt,
        item_id -> BigInt,
        field_id -> BigInt,
        text_value -> Nullable<Text>,
        long_value -> Nullable<Text>,
        int_value -> Nullable<BigInt>,
        decimal_value -> Nullable<Double>,
        date_value -> Nullable<Date>,
        bool_value -> Nullable<Bool>,
        choice_id -> Nullable<BigInt>,
        user_id -> Nullable<BigInt>,
        project_id -> Nullable<BigInt>,
        status_id -> Nullable<BigInt>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(memberships -> projects (project_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(items -> projects (project_id));
diesel::joinable!(item_keys -> projects (project_id));
diesel::joinable!(item_keys -> items (item_id));
diesel::joinable!(items -> statuses (status_id));
diesel::joinable!(items -> item_types (type_id));
diesel::joinable!(items -> priorities (priority_id));
diesel::joinable!(comments -> items (item_id));
diesel::joinable!(comments -> users (author_id));
diesel::joinable!(comment_versions -> comments (comment_id));
diesel::joinable!(comment_versions -> users (written_by));
diesel::joinable!(attachments -> items (item_id));
diesel::joinable!(attachments -> users (uploader_id));
diesel::joinable!(watchers -> items (item_id));
diesel::joinable!(watchers -> users (user_id));
diesel::joinable!(history -> items (item_id));
diesel::joinable!(history -> users (user_id));
diesel::joinable!(field_choices -> fields (field_id));
diesel::joinable!(field_projects -> fields (field_id));
diesel::joinable!(field_types -> fields (field_id));
diesel::joinable!(project_types -> projects (project_id));
diesel::joinable!(project_types -> item_types (type_id));
diesel::joinable!(type_transitions -> item_types (type_id));
diesel::joinable!(item_values -> items (item_id));
diesel::joinable!(item_values -> fields (field_id));
diesel::joinable!(item_values -> field_choices (choice_id));
diesel::joinable!(item_values -> users (user_id));
diesel::joinable!(items -> versions (target_version_id));
diesel::joinable!(items -> components (component_id));
diesel::joinable!(item_labels -> items (item_id));
diesel::joinable!(item_labels -> labels (label_id));
diesel::joinable!(versions -> projects (project_id));
diesel::joinable!(labels -> projects (project_id));
diesel::joinable!(components -> projects (project_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    api_tokens,
    login_failures,
    projects,
    memberships,
    item_types,
    project_types,
    statuses,
    transitions,
    type_transitions,
    priorities,
    items,
    item_keys,
    comments,
    comment_versions,
    attachments,
    attachment_orphans,
    watchers,
    item_links,
    history,
    index_queue,
    item_totals,
    value_totals,
    fields,
    field_choices,
    field_projects,
    field_types,
    item_values,
    versions,
    labels,
    item_labels,
    components,
    field_catalog_version,
);

diesel::table! {
    cluster_nodes (name) {
        name -> Text,
        instance -> Text,
        hostname -> Text,
        base_url -> Text,
        version -> Text,
        config_hash -> Text,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
        maintenance -> Bool,
        priority -> Integer,
        message -> Text,
    }
}

diesel::table! {
    cluster_lease (id) {
        id -> BigInt,
        holder -> Nullable<Text>,
        holder_instance -> Nullable<Text>,
        epoch -> BigInt,
        renewed_at -> Nullable<Timestamp>,
        handover_to -> Nullable<Text>,
        handover_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    cluster_events (id) {
        id -> BigInt,
        at -> Timestamp,
        node -> Text,
        kind -> Text,
        epoch -> Nullable<BigInt>,
        reason -> Text,
    }
}

diesel::table! {
    mail_received (mailbox, message_key, content_digest) {
        message_key -> Text,
        mailbox -> Text,
        item_id -> BigInt,
        comment_id -> Nullable<BigInt>,
        received_at -> Timestamp,
        content_digest -> Text,
    }
}

diesel::table! {
    mail_failures (id) {
        id -> BigInt,
        message_key -> Text,
        mailbox -> Text,
        sender -> Text,
        subject -> Text,
        reason -> Text,
        raw_sha256 -> Nullable<Text>,
        raw_size -> BigInt,
        failed_at -> Timestamp,
        content_digest -> Text,
    }
}

diesel::table! {
    mail_mailboxes (name) {
        name -> Text,
        last_success_at -> Nullable<Timestamp>,
        last_failure_at -> Nullable<Timestamp>,
        consecutive_failures -> Integer,
        last_error -> Text,
    }
}

diesel::table! {
    signing_keys (purpose) {
        purpose -> Text,
        secret -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> BigInt,
        item_id -> BigInt,
        recipient_id -> BigInt,
        actor_id -> BigInt,
        event -> Text,
        comment_id -> Nullable<BigInt>,
        changes -> Text,
        created_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        held -> Bool,
    }
}

diesel::table! {
    search_rebuilds (id) {
        id -> BigInt,
        reason -> Text,
        requested_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        node -> Nullable<Text>,
        epoch -> Nullable<BigInt>,
        generation -> Nullable<Text>,
        items_total -> BigInt,
        items_done -> BigInt,
        finished_at -> Nullable<Timestamp>,
        duration_ms -> Nullable<BigInt>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    index_commits (id) {
        id -> BigInt,
        generation -> Text,
        epoch -> BigInt,
        node -> Text,
        meta -> Text,
        applied -> Text,
        committed_at -> Timestamp,
        pinned_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    index_readers (node) {
        node -> Text,
        instance -> Text,
        open_commits -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(index_readers, cluster_nodes);

diesel::table! {
    cluster_probe (id) {
        id -> BigInt,
        node -> Text,
        epoch -> BigInt,
        at -> Timestamp,
    }
}

diesel::table! {
    value_totals (field_id, project_id, value_key, status_id, stripe) {
        field_id -> BigInt,
        project_id -> BigInt,
        value_key -> BigInt,
        status_id -> BigInt,
        stripe -> Integer,
        items -> BigInt,
    }
}

diesel::table! {
    item_totals (project_id, status_id, stripe) {
        project_id -> BigInt,
        status_id -> BigInt,
        stripe -> Integer,
        items -> BigInt,
    }
}

diesel::table! {
    job_runs (id) {
        id -> BigInt,
        job -> Text,
        scheduled_for -> Nullable<Timestamp>,
        requested_at -> Timestamp,
        cause -> Text,
        epoch -> Nullable<BigInt>,
        node -> Nullable<Text>,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        duration_ms -> Nullable<BigInt>,
        outcome -> Nullable<Text>,
        detail -> Text,
    }
}
