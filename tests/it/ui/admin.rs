//! Administrator pages and project management: who may see them, and what they do.

use std::ops::ControlFlow;

use reqwest::StatusCode;
use serde_json::json;

use super::app_with_project;
use crate::support::app::{ADMIN_PASSWORD, USER_PASSWORD};
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp, done_when, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_pages_are_forbidden_to_other_users() {
    let (app, _admin) = app_with_project().await;
    app.create_user("ursula").await;
    let user = WebClient::sign_in(&app.address, "ursula", USER_PASSWORD).await;
    for path in ["/admin", "/admin/cluster", "/admin/mail", "/admin/users", "/admin/workflow"] {
        let page = user.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.header("content-type").starts_with("text/html"), "{path}");
        assert!(page.body.contains("Not allowed"), "{path}");
    }
    let handover = user.submit("/admin/cluster/master", &[("node", "test-node")]).await;
    assert_eq!(handover.status, StatusCode::FORBIDDEN);
    let maintenance = user.submit("/admin/cluster/maintenance", &[("node", "test-node"), ("on", "true")]).await;
    assert_eq!(maintenance.status, StatusCode::FORBIDDEN);
    assert_eq!(app.admin.get("/api/v1/cluster").await.body["nodes"][0]["role"], "master");
    assert!(!user.get("/").await.body.contains("href=\"/admin\""), "no admin link for users");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_page_shows_nodes_and_lag_and_switches_maintenance() {
    let (_app, admin) = app_with_project().await;
    let page = admin.get("/admin/cluster").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<meta http-equiv=\"refresh\" content=\"5; url=/admin/cluster\">"));
    assert!(page.body.contains("<strong id=\"master\">test-node</strong>"), "{}", page.body);
    assert!(page.body.contains("<td class=\"role\">master</td>"));
    assert!(page.body.contains("id=\"index-lag\"") && page.body.contains("id=\"mail-lag\""));
    assert!(!page.body.contains("id=\"no-master\""));

    // The only node asks first (ui::confirm); confirmed here.
    let on =
        admin.submit("/admin/cluster/maintenance", &[("node", "test-node"), ("on", "true"), ("confirm", "yes")]).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    assert!(on.body.contains("Maintenance is on for node test-node."));
    wait_until("the cluster page showing maintenance", std::time::Duration::from_secs(30), async || {
        let page = admin.get("/admin/cluster").await;
        done_when(
            page.body.contains("<td class=\"role\">maintenance</td>") && page.body.contains("Maintenance off"),
            page.body,
        )
    })
    .await;
    let off = admin.submit("/admin/cluster/maintenance", &[("node", "test-node"), ("on", "false")]).await;
    assert!(off.body.contains("Maintenance is off for node test-node."));
    let unknown = admin.submit("/admin/cluster/master", &[("node", "no-such-node")]).await;
    assert!(unknown.status.is_client_error() || unknown.status.is_server_error(), "{}", unknown.status);
    assert!(unknown.body.contains("class=\"alert error\""), "{}", unknown.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mail_page_lists_refused_mail_and_reprocesses_or_dismisses_it() {
    let (app, admin) = app_with_project().await;
    let page = admin.get("/admin/mail").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("No refused mail."));
    {
        use baton::db::schema::mail_failures;
        use diesel::prelude::*;
        let mut connection = app.database().get().unwrap();
        diesel::insert_into(mail_failures::table)
            .values((
                mail_failures::message_key.eq("<huge@example.com>"),
                mail_failures::mailbox.eq("support"),
                mail_failures::sender.eq("<script>@example.com"),
                mail_failures::subject.eq("Too big"),
                mail_failures::reason.eq("larger than max_message_size"),
                mail_failures::raw_size.eq(30_000_000_i64),
            ))
            .execute(&mut **connection)
            .unwrap();
    }
    let listed = admin.get("/admin/mail").await;
    assert!(listed.body.contains("larger than max_message_size") && listed.body.contains("28.6 MiB"));
    assert!(listed.body.contains("&#60;script&#62;@example.com"), "escaped sender");
    let reprocessed = admin.submit("/admin/mail/1/reprocess", &[]).await;
    assert_eq!(reprocessed.status, StatusCode::CONFLICT);
    assert!(reprocessed.body.contains("was never fetched"), "{}", reprocessed.body);
    let dismissed = admin.submit("/admin/mail/1/delete", &[]).await;
    assert_eq!(dismissed.status, StatusCode::OK);
    assert!(dismissed.body.contains("Mail 1 was dismissed.") && dismissed.body.contains("No refused mail."));
    let missing = admin.submit("/admin/mail/42/delete", &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("mail failure 42 not found"), "{}", missing.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_manage_users_from_the_users_page() {
    let (app, admin) = app_with_project().await;
    let created = admin
        .submit(
            "/admin/users",
            &[("login", "nina"), ("name", "Nina"), ("email", "nina@example.com"), ("password", "a long password")],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert!(created.body.contains("User nina created."));
    let invalid = admin
        .submit(
            "/admin/users",
            &[("login", "x y"), ("name", "N"), ("email", "n@example.com"), ("password", "a long password")],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid.body.contains("class=\"field-error\""));
    let users = app.admin.get("/api/v1/users").await.body;
    let nina = users["users"].as_array().unwrap().iter().find(|user| user["login"] == "nina").unwrap()["id"].clone();
    let deactivated = admin.submit(&format!("/admin/users/{nina}"), &[("active", "false"), ("confirm", "yes")]).await;
    assert!(deactivated.body.contains("User nina updated."));
    assert_eq!(app.admin.get(&format!("/api/v1/users/{nina}")).await.body["active"], false);
    let reset = admin.submit(&format!("/admin/users/{nina}"), &[("active", "true")]).await;
    assert_eq!(reset.status, StatusCode::OK);
    admin.submit(&format!("/admin/users/{nina}"), &[("password", "reset by the admin")]).await;
    WebClient::sign_in(&app.address, "nina", "reset by the admin").await;
    let last_admin = admin.submit(&format!("/admin/users/{}", app.admin.user_id), &[("is_admin", "false")]).await;
    assert_eq!(last_admin.status, StatusCode::CONFLICT);
    assert!(last_admin.body.contains("last active administrator"), "{}", last_admin.body);
    let workflow = admin.get("/admin/workflow").await;
    assert_eq!(workflow.status, StatusCode::OK);
    assert!(workflow.body.contains("name=\"move\" value=\"1-2\" checked"), "New → In progress is allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_and_members_are_managed_from_pages_by_those_allowed() {
    let (app, admin) = app_with_project().await;
    let created = admin.submit("/projects", &[("key", "ops"), ("name", "Operations"), ("is_public", "on")]).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(created.location(), Some("/projects/OPS?created=project"));
    let page = admin.get("/projects/OPS?created=project").await;
    assert!(page.body.contains("Project OPS created.") && page.body.contains("id=\"next-steps\""), "{}", page.body);
    let duplicate = admin.submit("/projects", &[("key", "OPS"), ("name", "Again")]).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let member_api = app.create_user("mike").await;
    let added = admin.submit("/projects/WEB/members", &[("login", "mike"), ("role", "reporter")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let nobody = admin.submit("/projects/WEB/members", &[("login", "nobody"), ("role", "viewer")]).await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nobody.body.contains("there is no active user &#34;nobody&#34;"), "{}", nobody.body);
    let members = app.admin.get("/api/v1/projects/WEB/members").await.body;
    assert_eq!(members["members"][0]["role"], "reporter", "{members}");

    let mike = WebClient::sign_in(&app.address, "mike", USER_PASSWORD).await;
    assert_eq!(mike.get("/projects/WEB/settings").await.status, StatusCode::FORBIDDEN);
    assert_eq!(mike.submit("/projects/WEB/settings", &[("name", "Mine")]).await.status, StatusCode::FORBIDDEN);
    assert!(!mike.get("/projects").await.body.contains("New project"), "only admins create projects");
    app.add_member("WEB", &member_api, "manager").await;
    assert_eq!(mike.get("/projects/WEB/settings").await.status, StatusCode::OK);
    let renamed = mike.submit("/projects/WEB/settings", &[("name", "Website"), ("description", "")]).await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER);
    assert_eq!(app.admin.get("/api/v1/projects/WEB").await.body["name"], "Website");
    let removed = admin.submit("/projects/WEB/members/remove", &[("user_id", &member_api.user_id.to_string())]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(mike.get("/projects/WEB/settings").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_finds_people_by_name_login_or_address_and_sees_what_roles_mean() {
    let (app, _admin) = app_with_project().await;
    for (login, name) in
        [("ann.lee", "Ann Lee"), ("anna.k", "Anna Karlsson"), ("bob", "Bob Ancona"), ("gone", "Ann Gone")]
    {
        let body =
            json!({"login": login, "name": name, "email": format!("{login}@corp.example"), "password": USER_PASSWORD});
        assert_eq!(app.admin.post("/api/v1/users", body).await.status, StatusCode::CREATED);
    }
    let gone = app.admin.get("/api/v1/users").await.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["login"] == "gone")
        .unwrap()["id"]
        .clone();
    app.admin.patch(&format!("/api/v1/users/{gone}"), json!({"active": false})).await;
    let boss = app.create_user("boss").await;
    app.add_member("WEB", &boss, "manager").await;
    let manager = WebClient::sign_in(&app.address, "boss", USER_PASSWORD).await;
    // A manager who is no administrator reaches the settings from the project and the list.
    assert!(manager.get("/projects/WEB").await.body.contains("id=\"project-settings\""));
    assert!(manager.get("/projects").await.body.contains("href=\"/projects/WEB/settings\""));
    let settings = manager.get("/projects/WEB/settings").await;
    assert!(settings.body.contains("also runs the project"), "the roles explained");
    assert!(settings.body.contains("<option value=\"developer\" selected>"), "developer first");

    let role_of = async |login: &str| {
        let members = app.admin.get("/api/v1/projects/WEB/members").await.body;
        members["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|member| member["user"]["login"] == login)
            .map(|member| member["role"].clone())
    };
    // By address, and by a part of a name only one person has: added at once.
    let by_address =
        manager.submit("/projects/WEB/members", &[("person", "ANN.LEE@corp.example"), ("role", "reporter")]).await;
    assert_eq!(by_address.status, StatusCode::SEE_OTHER, "{}", by_address.body);
    assert_eq!(role_of("ann.lee").await, Some(json!("reporter")));
    let by_name = manager.submit("/projects/WEB/members", &[("person", "karlsson"), ("role", "developer")]).await;
    assert_eq!(by_name.status, StatusCode::SEE_OTHER, "{}", by_name.body);
    assert_eq!(role_of("anna.k").await, Some(json!("developer")));
    // Several match: the page offers each (not the deactivated one) with the role chosen.
    let several = manager.submit("/projects/WEB/members", &[("person", "an"), ("role", "viewer")]).await;
    assert_eq!(several.status, StatusCode::OK, "{}", several.body);
    assert!(several.body.contains("3 people match &#34;an&#34;: choose one below."), "{}", several.body);
    for offered in ["Add Ann Lee", "Add Anna Karlsson", "Add Bob Ancona"] {
        assert!(several.body.contains(offered), "{offered}: {}", several.body);
    }
    assert!(!several.body.contains("Ann Gone"), "a deactivated account is not offered");
    assert!(several.body.contains("value=\"an\""), "the text typed is kept");
    let chosen = manager.submit("/projects/WEB/members", &[("login", "bob"), ("role", "viewer")]).await;
    assert_eq!(chosen.status, StatusCode::SEE_OTHER);
    assert_eq!(role_of("bob").await, Some(json!("viewer")));
    let nobody = manager.submit("/projects/WEB/members", &[("person", "zz%"), ("role", "viewer")]).await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nobody.body.contains("no active user matches &#34;zz%&#34;"), "{}", nobody.body);
    // Someone who may not manage members learns nothing of who exists.
    let dev = WebClient::sign_in(&app.address, "anna.k", USER_PASSWORD).await;
    let refused = dev.submit("/projects/WEB/members", &[("person", "an"), ("role", "viewer")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.body.contains("Ann Lee"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_projects_page_says_what_to_set_up_to_its_managers() {
    let (app, admin) = app_with_project().await;
    let page = admin.get("/projects/WEB").await;
    assert!(page.body.contains("id=\"next-steps\""), "{}", page.body);
    assert!(page.body.contains("href=\"/projects/WEB/settings#members\""));
    let reader = app.create_user("rita").await;
    app.add_member("WEB", &reader, "reporter").await;
    let rita = WebClient::sign_in(&app.address, "rita", USER_PASSWORD).await;
    let theirs = rita.get("/projects/WEB").await;
    assert!(!theirs.body.contains("id=\"next-steps\"") && !theirs.body.contains("id=\"project-settings\""));
    assert!(theirs.body.contains("Create an item in WEB"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_page_raises_the_alarm_when_no_node_is_master() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.cluster.heartbeat_interval = std::time::Duration::from_millis(100);
        settings.cluster.node_timeout = std::time::Duration::from_millis(600);
    })
    .await;
    let admin = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    assert!(!admin.get("/admin/cluster").await.body.contains("id=\"no-master\""));
    app.without_master().await;
    let page = wait_until("the no-master alarm", std::time::Duration::from_secs(30), async || {
        let page = admin.get("/admin/cluster").await;
        if page.body.contains("id=\"no-master\"") { ControlFlow::Break(page) } else { ControlFlow::Continue(page.body) }
    })
    .await;
    assert!(page.body.contains("<strong id=\"master\">none</strong>"), "{}", page.body);
    assert!(page.body.contains("<td class=\"role\">maintenance</td>"));
}
