//! The whole URL map, in one place: the JSON API under `/api/v1`, then the HTML pages.
//! Keep `resources/openapi.json` in step: a test checks that every documented operation is
//! routed.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::web;
use serde_json::json;

use crate::web::api::{
    attachments, cluster, comments, components, fields, items, jobs, labels, links, mail, markdown, projects, search,
    session, system, users, versions, workflow,
};
use crate::web::error::ApiError;
use crate::web::error::{json_body_error, no_such_endpoint, path_error, query_error};
use crate::web::input::refuse_nul_in_url;
use crate::web::metrics;
use crate::web::pages::admin::{
    self as admin_pages, cluster as cluster_pages, fields as field_pages, mail as mail_pages, users as user_pages,
    workflow as workflow_pages,
};
use crate::web::pages::planning as planning_pages;
use crate::web::pages::{
    self, assets, home, item as item_pages, items as item_list_pages, profile, projects as project_pages,
    search as search_pages, session as session_pages,
};

/// Largest JSON body: a 1 MiB description plus JSON escaping headroom.
const JSON_LIMIT_BYTES: usize = 4 * 1024 * 1024;

/// API answers are personal and current: no cache keeps them (attachment downloads set their
/// own, private policy, which this leaves alone).
fn no_store() -> DefaultHeaders {
    DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store"))
}

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(web::JsonConfig::default().limit(JSON_LIMIT_BYTES).error_handler(json_body_error))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .service(web::resource("/metrics").wrap(no_store()).get(metrics::scrape))
        .service(
            web::scope("/api/v1")
                .wrap(from_fn(refuse_nul_in_url::<ApiError, _>))
                .wrap(no_store())
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
                .service(
                    web::resource("/users/me/notifications")
                        .get(users::show_notifications)
                        .put(users::update_notifications),
                )
                .service(web::resource("/users/{id}").get(users::get_user).patch(users::update_user))
                .service(web::resource("/projects").get(projects::list_projects).post(projects::create_project))
                .service(
                    web::resource("/projects/{project}").get(projects::get_project).patch(projects::update_project),
                )
                .route("/projects/{project}/members", web::get().to(projects::list_members))
                .service(web::resource("/projects/{project}/types").get(projects::get_types).put(projects::set_types))
                .service(
                    web::resource("/projects/{project}/members/{user_id}")
                        .put(projects::set_member)
                        .delete(projects::remove_member),
                )
                .service(
                    web::resource("/projects/{project}/versions")
                        .get(versions::list_versions)
                        .post(versions::create_version),
                )
                .route("/projects/{project}/roadmap", web::get().to(versions::show_roadmap))
                .service(
                    web::resource("/versions/{id}")
                        .get(versions::get_version)
                        .patch(versions::update_version)
                        .delete(versions::delete_version),
                )
                .service(
                    web::resource("/projects/{project}/labels").get(labels::list_labels).post(labels::create_label),
                )
                .service(
                    web::resource("/labels/{id}")
                        .get(labels::get_label)
                        .patch(labels::update_label)
                        .delete(labels::delete_label),
                )
                .service(
                    web::resource("/projects/{project}/components")
                        .get(components::list_components)
                        .post(components::create_component),
                )
                .service(
                    web::resource("/components/{id}")
                        .get(components::get_component)
                        .patch(components::update_component)
                        .delete(components::delete_component),
                )
                .route("/workflow", web::get().to(workflow::get_workflow))
                .route("/workflow/{kind}", web::post().to(workflow::create_entry))
                .service(
                    web::resource("/workflow/{kind}/{id}").patch(workflow::update_entry).delete(workflow::delete_entry),
                )
                .route("/workflow/statuses/{id}/transitions", web::put().to(workflow::set_transitions))
                .route("/workflow/types/{id}/transitions", web::put().to(workflow::set_type_transitions))
                .service(web::resource("/fields").get(fields::list_fields).post(fields::create_field))
                .service(
                    web::resource("/fields/{key}")
                        .get(fields::get_field)
                        .patch(fields::update_field)
                        .delete(fields::delete_field),
                )
                .service(web::resource("/items").get(items::list_items).post(items::create_item))
                .route("/items.csv", web::get().to(items::export_items))
                .service(
                    web::resource("/items/{id}")
                        .get(items::get_item)
                        .patch(items::update_item)
                        .delete(items::delete_item),
                )
                .route("/items/{id}/move", web::post().to(items::move_item))
                .route("/items/{id}/copy", web::post().to(items::copy_item))
                .route("/items/{id}/transitions", web::get().to(items::list_transitions))
                .route("/items/{id}/history", web::get().to(items::list_history))
                .route("/items/{id}/children", web::get().to(items::list_children))
                .service(
                    web::resource("/items/{id}/comments").get(comments::list_comments).post(comments::create_comment),
                )
                .service(
                    web::resource("/comments/{id}")
                        .get(comments::get_comment)
                        .patch(comments::update_comment)
                        .delete(comments::delete_comment),
                )
                .route("/comments/{id}/versions", web::get().to(comments::list_versions))
                .service(
                    web::resource("/items/{id}/attachments")
                        .get(attachments::list_attachments)
                        .post(attachments::upload_attachment),
                )
                .service(web::resource("/items/{id}/watchers").get(items::list_watchers).post(items::add_watcher))
                .route("/items/{id}/watchers/{user_id}", web::delete().to(items::remove_watcher))
                .service(web::resource("/items/{id}/links").get(links::list_links).post(links::add_link))
                .route("/items/{id}/links/{link_id}", web::delete().to(links::remove_link))
                .route("/attachments/{id}", web::get().to(attachments::download_attachment))
                .route("/attachments/{id}/image", web::get().to(attachments::show_image))
                .route("/markdown", web::post().to(markdown::preview))
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
        )
        .service(page_routes());
}

/// The browser pages. Register this scope last: its default service (the HTML 404 page)
/// answers every path that no route above serves.
fn page_routes() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope("")
        .wrap(from_fn(refuse_nul_in_url::<pages::error::PageError, _>))
        .wrap(from_fn(pages::error::with_navigation))
        .wrap(pages::security_headers())
        .app_data(web::QueryConfig::default().error_handler(pages::error::query_error))
        .app_data(web::PathConfig::default().error_handler(pages::error::path_error))
        .app_data(web::PayloadConfig::new(pages::FORM_LIMIT_BYTES))
        .route("/static/baton.css", web::get().to(assets::stylesheet))
        .route("/static/baton.js", web::get().to(assets::script))
        .route("/", web::get().to(home::show_home))
        .service(web::resource("/signin").get(session_pages::show_sign_in).post(session_pages::sign_in))
        .route("/signout", web::post().to(session_pages::sign_out))
        .route("/items", web::get().to(item_list_pages::list_items))
        .route("/items.csv", web::get().to(item_list_pages::export_items))
        .service(web::resource("/items/new").get(item_list_pages::show_new_item).post(item_list_pages::create_item))
        .route("/items/{id}", web::get().to(item_pages::show_item))
        .route("/items/{id}/edit", web::post().to(item_pages::edit_item))
        .route("/items/{id}/delete", web::post().to(pages::deletion::delete_item))
        .service(web::resource("/items/{id}/copy").get(pages::copy::show_copy).post(pages::copy::copy_item))
        .route("/items/{id}/field", web::post().to(pages::in_place::set_field))
        .route("/items/{id}/tasks", web::post().to(item_pages::tick_task))
        .route("/items/{id}/comments", web::post().to(item_pages::add_comment))
        .service(web::resource("/comments/{id}/edit").get(pages::comments::show_edit).post(pages::comments::save_edit))
        .route("/comments/{id}/delete", web::post().to(pages::comments::delete))
        .route("/comments/{id}/versions", web::get().to(pages::comments::show_versions))
        .route("/items/{id}/attachments", web::post().to(item_pages::upload_attachment))
        .route("/items/{id}/links", web::post().to(item_pages::add_link))
        .route("/items/{id}/links/{link_id}/remove", web::post().to(item_pages::remove_link))
        .route("/items/{id}/labels", web::post().to(item_pages::add_label))
        .route("/items/{id}/labels/{label_id}/remove", web::post().to(item_pages::remove_label))
        .route("/items/{id}/watch", web::post().to(item_pages::watch_item))
        .route("/items/{id}/unwatch", web::post().to(item_pages::unwatch_item))
        .service(web::resource("/projects").get(project_pages::list_projects).post(project_pages::create_project))
        .route("/projects/{key}", web::get().to(item_list_pages::show_project))
        .service(
            web::resource("/projects/{key}/settings")
                .get(project_pages::show_settings)
                .post(project_pages::update_settings),
        )
        .route("/projects/{key}/types", web::post().to(project_pages::set_types))
        .route("/projects/{key}/roadmap", web::get().to(pages::roadmap::show_roadmap))
        .route("/projects/{key}/planning", web::get().to(planning_pages::show_planning))
        .route("/projects/{key}/versions", web::post().to(planning_pages::create_version))
        .route("/projects/{key}/versions/{id}", web::post().to(planning_pages::update_version))
        .route("/projects/{key}/versions/{id}/delete", web::post().to(planning_pages::delete_version))
        .route("/projects/{key}/labels", web::post().to(planning_pages::create_label))
        .route("/projects/{key}/labels/{id}", web::post().to(planning_pages::update_label))
        .route("/projects/{key}/labels/{id}/delete", web::post().to(planning_pages::delete_label))
        .route("/projects/{key}/components", web::post().to(planning_pages::create_component))
        .route("/projects/{key}/components/{id}", web::post().to(planning_pages::update_component))
        .route("/projects/{key}/components/{id}/delete", web::post().to(planning_pages::delete_component))
        .route("/projects/{key}/members", web::post().to(project_pages::set_member))
        .route("/projects/{key}/members/remove", web::post().to(project_pages::remove_member))
        .service(web::resource("/profile").get(profile::show_profile).post(profile::update_profile))
        .route("/profile/password", web::post().to(profile::change_password))
        .route("/profile/notifications", web::post().to(profile::update_notifications))
        .route("/profile/tokens", web::post().to(profile::create_token))
        .route("/profile/tokens/{id}/revoke", web::post().to(profile::revoke_token))
        .route("/search", web::get().to(search_pages::search_items))
        .route("/admin", web::get().to(admin_pages::show_index))
        .route("/admin/cluster", web::get().to(cluster_pages::show_cluster))
        .route("/admin/cluster/master", web::post().to(cluster_pages::hand_over))
        .route("/admin/cluster/maintenance", web::post().to(cluster_pages::set_maintenance))
        .route("/admin/mail", web::get().to(mail_pages::show_failures))
        .route("/admin/mail/{id}/reprocess", web::post().to(mail_pages::reprocess_failure))
        .route("/admin/mail/{id}/delete", web::post().to(mail_pages::delete_failure))
        .service(web::resource("/admin/users").get(user_pages::list_users).post(user_pages::create_user))
        .route("/admin/users/{id}", web::post().to(user_pages::update_user))
        .service(web::resource("/admin/fields").get(field_pages::show_fields).post(field_pages::create_field))
        .service(web::resource("/admin/fields/{key}").get(field_pages::show_field).post(field_pages::update_field))
        .route("/admin/fields/{key}/move", web::post().to(field_pages::move_field))
        .route("/admin/fields/{key}/delete", web::post().to(field_pages::delete_field))
        .route("/admin/workflow", web::get().to(workflow_pages::show_workflow))
        .route("/admin/workflow/transitions", web::post().to(workflow_pages::save_transitions))
        .route("/admin/workflow/{kind}", web::post().to(workflow_pages::create_entry))
        .route("/admin/workflow/{kind}/{id}", web::post().to(workflow_pages::update_entry))
        .route("/admin/workflow/{kind}/{id}/delete", web::post().to(workflow_pages::delete_entry))
        .default_service(web::to(pages::error::no_such_page))
}

/// Gives the empty 405 that actix answers for a wrong method the JSON error envelope, or an
/// HTML page outside the API.
pub fn method_not_allowed<B>(
    response: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    let (request, _) = response.into_parts();
    let response = if request.path().starts_with("/api/") {
        let body = json!({"error": {
            "code": "method_not_allowed",
            "message": format!("{} is not allowed on {}; see /api/v1/openapi.json", request.method(), request.path()),
        }});
        HttpResponse::MethodNotAllowed().insert_header((actix_web::http::header::CACHE_CONTROL, "no-store")).json(body)
    } else {
        pages::error::error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            "Not allowed",
            "This page cannot be used that way; go back and use its links and buttons.".into(),
        )
    };
    let response = response.map_into_right_body();
    Ok(actix_web::middleware::ErrorHandlerResponse::Response(actix_web::dev::ServiceResponse::new(request, response)))
}
