//! The whole URL map, in one place. Keep `resources/openapi.json` in step: a test checks
//! that every documented operation is routed.

use actix_web::web;

use crate::web::api::{attachments, cluster, items, jobs, mail, projects, search, session, system, users};
use crate::web::error::{json_body_error, no_such_endpoint, path_error, query_error};
use crate::web::metrics;

/// Largest JSON body: a 1 MiB description plus JSON escaping headroom.
const JSON_LIMIT_BYTES: usize = 4 * 1024 * 1024;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(web::JsonConfig::default().limit(JSON_LIMIT_BYTES).error_handler(json_body_error))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .route("/metrics", web::get().to(metrics::scrape))
        .service(
            web::scope("/api/v1")
                .route("/system/ping", web::get().to(system::ping))
                .route("/openapi.json", web::get().to(system::openapi))
                .service(
                    web::resource("/session")
                        .get(session::show_session)
                        .post(session::sign_in)
                        .delete(session::sign_out),
                )
                .service(web::resource("/tokens").get(session::list_tokens).post(session::create_token))
                .route("/tokens/{id}", web::delete().to(session::revoke_token))
                .service(web::resource("/users").get(users::list_users).post(users::create_user))
                .service(web::resource("/users/me").get(users::show_me).patch(users::update_me))
                .service(web::resource("/users/{id}").get(users::get_user).patch(users::update_user))
                .service(web::resource("/projects").get(projects::list_projects).post(projects::create_project))
                .service(
                    web::resource("/projects/{project}").get(projects::get_project).patch(projects::update_project),
                )
                .route("/projects/{project}/members", web::get().to(projects::list_members))
                .service(
                    web::resource("/projects/{project}/members/{user_id}")
                        .put(projects::set_member)
                        .delete(projects::remove_member),
                )
                .route("/workflow", web::get().to(projects::get_workflow))
                .service(web::resource("/items").get(items::list_items).post(items::create_item))
                .service(web::resource("/items/{id}").get(items::get_item).patch(items::update_item))
                .route("/items/{id}/transitions", web::get().to(items::list_transitions))
                .route("/items/{id}/history", web::get().to(items::list_history))
                .service(web::resource("/items/{id}/comments").get(items::list_comments).post(items::create_comment))
                .service(
                    web::resource("/items/{id}/attachments")
                        .get(attachments::list_attachments)
                        .post(attachments::upload_attachment),
                )
                .service(web::resource("/items/{id}/watchers").get(items::list_watchers).post(items::add_watcher))
                .route("/items/{id}/watchers/{user_id}", web::delete().to(items::remove_watcher))
                .route("/attachments/{id}", web::get().to(attachments::download_attachment))
                .route("/search", web::get().to(search::search_items))
                .service(web::resource("/search/rebuilds").get(search::list_rebuilds).post(search::request_rebuild))
                .route("/search/rebuilds/{id}", web::get().to(search::get_rebuild))
                .route("/mail/failures", web::get().to(mail::list_failures))
                .route("/mail/failures/{id}", web::delete().to(mail::delete_failure))
                .route("/mail/failures/{id}/reprocess", web::post().to(mail::reprocess_failure))
                .route("/jobs", web::get().to(jobs::list_jobs))
                .service(web::resource("/jobs/{name}/runs").get(jobs::list_runs).post(jobs::request_run))
                .route("/jobs/{name}/runs/{id}", web::get().to(jobs::get_run))
                .route("/cluster", web::get().to(cluster::show_cluster))
                .route("/cluster/master", web::post().to(cluster::hand_over))
                .route("/cluster/nodes/{id}/maintenance", web::post().to(cluster::set_maintenance))
                .default_service(web::to(no_such_endpoint)),
        );
}
