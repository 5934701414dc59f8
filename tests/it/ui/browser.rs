//! The pages in headless Chromium: what a person does, click by click.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::app::{ADMIN_PASSWORD, USER_PASSWORD};
use crate::support::browser::Browser;
use crate::support::cluster::{self, TestCluster};
use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_user_creates_comments_attaches_and_finds_an_item() {
    let Some(browser) = Browser::start("browser item scenario").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_project("WEB", false).await;
    let developer = app.create_user("dana").await;
    app.add_member("WEB", &developer, "developer").await;

    browser.sign_in(&app.address, "/items", "dana", USER_PASSWORD).await;
    assert_eq!(browser.path().await, "/items");

    browser.click("nav a[href='/items/new']").await;
    browser.click("#project option[value='WEB']").await;
    browser.type_into("#title", "Quokka dashboard is empty").await;
    browser.type_into("#description", "Steps:\n\n1. open the **dashboard**").await;
    browser.click("form.stacked button[type=submit]").await;
    let on_an_item_page =
        async |browser: &Browser| browser.path().await.trim_start_matches("/items/").parse::<i64>().is_ok();
    browser.wait_for("the new item's page", false, on_an_item_page).await;
    let item_path = browser.path().await;
    assert!(browser.text("h1").await.contains("Quokka dashboard is empty"));
    assert_eq!(browser.text("#description strong").await, "dashboard");

    browser.type_into("#comment-body", "I can _reproduce_ this.").await;
    browser.click("#comment-form button").await;
    browser.wait_for("the comment", false, async |browser| browser.exists("article.comment em").await).await;
    assert_eq!(browser.text("article.comment em").await, "reproduce");

    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("screenshot-notes.txt");
    std::fs::write(&file, b"the dashboard shows nothing at all").unwrap();
    browser.find("#upload-file").await.send_keys(file.display().to_string()).await.unwrap();
    browser.click("#upload-form button").await;
    browser.wait_for("the attachment", false, async |browser| browser.exists("a.attachment-link").await).await;
    let link = browser.find("a.attachment-link").await;
    assert_eq!(link.text().await.unwrap(), "screenshot-notes.txt");
    assert!(browser.source().await.contains("34 bytes"), "the size is shown");
    let href = link.attr("href").await.unwrap().expect("a download link");
    let download = reqwest::Client::new()
        .get(app.url(&href))
        .header("Cookie", browser.session_cookie_header().await)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert!(download.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(download.bytes().await.unwrap().as_ref(), b"the dashboard shows nothing at all");

    // The search box is on every page; the index catches up within a moment.
    browser.type_into("#site-search", "quokka\n").await;
    browser
        .wait_for("the item in the search results", true, async |browser| {
            browser.path().await == "/search" && browser.exists("a.hit-title").await
        })
        .await;
    assert!(browser.text("a.hit-title").await.contains("Quokka"));
    assert_eq!(browser.text("a.hit-title b").await.to_lowercase(), "quokka", "the match is highlighted");
    browser.click("a.hit-title").await;
    browser.wait_for("the item page", false, async |browser| browser.path().await == item_path).await;
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_keyboard_shortcuts_move_through_lists_and_into_the_item_forms() {
    let Some(browser) = Browser::start("keyboard shortcuts").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_project("KEY", false).await;
    for title in ["First by keyboard", "Second by keyboard", "Third by keyboard"] {
        app.admin.create_item("KEY", title).await;
    }
    browser.sign_in(&app.address, "/items?project=KEY", "admin", ADMIN_PASSWORD).await;
    let rows = browser.attributes("main a[data-nav]", "href").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    browser.press("j").await;
    assert_eq!(browser.focused("href").await, rows[0]);
    browser.press("jj").await;
    assert_eq!(browser.focused("href").await, rows[2]);
    browser.press("j").await;
    assert_eq!(browser.focused("href").await, rows[2], "the last row stays");
    browser.press("k").await;
    assert_eq!(browser.focused("href").await, rows[1]);
    browser.press("\u{E007}").await;
    browser.wait_for("the item Enter opened", false, async |browser| browser.path().await == rows[1]).await;

    let item_page = app.url(&rows[1]);
    browser.press("c").await;
    assert_eq!(browser.focused("id").await, "comment-body");
    browser.press("just typing").await;
    assert_eq!(browser.focused("id").await, "comment-body", "letters typed into a field stay there");
    assert_eq!(browser.find("#comment-body").await.prop("value").await.unwrap().as_deref(), Some("just typing"));

    browser.goto(&item_page).await;
    assert!(!browser.exists("details#edit[open]").await);
    browser.press("e").await;
    assert!(browser.exists("details#edit[open]").await, "e opens the edit form");
    assert_eq!(browser.focused("id").await, "edit-title");

    browser.goto(&item_page).await;
    browser.press("?").await;
    assert!(browser.exists("dialog#shortcuts[open]").await, "? lists the shortcuts");
    browser.press("e").await;
    assert!(!browser.exists("details#edit[open]").await, "keys wait while the list is open");
    browser.press("\u{E00C}").await;
    assert!(!browser.exists("dialog#shortcuts[open]").await, "Escape closes the list");
    browser.press("/").await;
    assert_eq!(browser.focused("id").await, "site-search");
    assert_eq!(browser.find("#site-search").await.prop("value").await.unwrap().as_deref(), Some(""), "/ is not typed");

    browser.goto(&item_page).await;
    browser.press("n").await;
    browser.wait_for("the new item form", false, async |browser| browser.path().await == "/items/new").await;
    browser.find("form[action='/items/new'] button[type=submit]").await;

    // From the project's items, n files in that project; Ctrl+Enter sends the form.
    browser.goto(&app.url("/projects/KEY")).await;
    browser.press("n").await;
    browser.wait_for("the new item form", false, async |browser| browser.path().await == "/items/new").await;
    assert_eq!(browser.find("#project").await.prop("value").await.unwrap().as_deref(), Some("KEY"));
    browser.click("#title").await;
    browser.press("Filed by keyboard").await;
    // In the description, where Enter alone is a new line.
    browser.click("#description").await;
    browser.press("First line").await;
    browser.press_with_control(thirtyfour::Key::Enter).await;
    browser
        .wait_for("the new item", false, async |browser| browser.text("h1").await.contains("Filed by keyboard"))
        .await;
    assert_eq!(app.count_rows("items WHERE title = 'Filed by keyboard'"), 1);
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_viewer_sees_no_edit_controls_and_an_outsider_gets_not_found() {
    let Some(browser) = Browser::start("browser permission scenario").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_project("SEC", false).await;
    let viewer = app.create_user("vic").await;
    app.add_member("SEC", &viewer, "viewer").await;
    app.create_user("otto").await;
    let item = app.admin.create_item("SEC", "Rotate the keys").await;
    let item_path = format!("/items/{}", item["id"]);

    browser.sign_in(&app.address, &item_path, "vic", USER_PASSWORD).await;
    assert_eq!(browser.path().await, item_path, "back to the page asked for");
    assert!(browser.text("h1").await.contains("Rotate the keys"));
    for control in ["#edit", "button.status-move", "#comment-form", "#upload-form"] {
        assert!(!browser.exists(control).await, "a viewer sees {control}");
    }
    assert_eq!(browser.text("#watch-button").await, "Watch");
    browser.click("#watch-button").await;
    browser.wait_for("watching", false, async |browser| browser.text("#watch-button").await == "Unwatch").await;
    browser.sign_out().await;

    browser.sign_in(&app.address, &item_path, "otto", USER_PASSWORD).await;
    assert_eq!(browser.text("h1").await, "Not found");
    assert!(!browser.source().await.contains("Rotate the keys"));
    browser.goto(&app.url("/projects/SEC")).await;
    assert_eq!(browser.text("h1").await, "Not found");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_the_admin_hands_the_master_role_over_from_the_cluster_page() {
    let Some(browser) = Browser::start("browser handover scenario").await else { return };
    // The handover must finish within two node timeouts: not beside the machine's heaviest tests.
    let _heavy = crate::support::HEAVY.lock().await;
    let mut nodes = TestCluster::new(Backend::Sqlite);
    nodes.start("alpha").await;
    nodes.start("beta").await;
    let (master, _) = nodes.wait_for_master(Duration::from_secs(30)).await;
    let backup = if master == "alpha" { "beta" } else { "alpha" };

    browser.sign_in(&nodes.address(backup), "/admin/cluster", "admin", cluster::ADMIN_PASSWORD).await;
    assert_eq!(browser.path().await, "/admin/cluster");
    assert_eq!(browser.text("#master").await, master);
    assert_eq!(browser.text(&format!("tr[data-node='{master}'] td.role")).await, "master");
    assert_eq!(browser.text(&format!("tr[data-node='{backup}'] td.role")).await, "backup");
    let epoch_before: i64 = browser.text("#epoch").await.parse().unwrap();

    browser.click(&format!("tr[data-node='{backup}'] button.make-master")).await;
    browser.wait_for("the handover confirmation", false, async |browser| browser.exists("#notice").await).await;
    assert!(
        browser.text("#notice").await.starts_with(&format!("{backup} is now the master")),
        "{}",
        browser.source().await
    );
    assert_eq!(browser.text("#master").await, backup);
    assert!(browser.text("#epoch").await.parse::<i64>().unwrap() > epoch_before);
    assert_eq!(browser.text(&format!("tr[data-node='{backup}'] td.role")).await, "master");
    assert_eq!(nodes.wait_for_master(Duration::from_secs(10)).await.0, backup);
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_developer_creates_a_sub_item_links_two_items_and_adds_a_label_from_the_item_page() {
    let Some(browser) = Browser::start("browser planning scenario").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_project("WEB", false).await;
    let created = app
        .admin
        .post("/api/v1/projects/WEB/labels", serde_json::json!({"name": "checkout", "color": "#16a34a"}))
        .await;
    assert_eq!(created.status, reqwest::StatusCode::CREATED);
    let developer = app.create_user("dana").await;
    app.add_member("WEB", &developer, "developer").await;
    let parent = developer.create_item("WEB", "Launch the shop").await["id"].as_i64().unwrap();
    let other = developer.create_item("WEB", "Pick a payment provider").await["id"].as_i64().unwrap();

    browser.sign_in(&app.address, &format!("/items/{parent}"), "dana", USER_PASSWORD).await;
    browser.click("#add-sub-item").await;
    browser.wait_for("the new-item form", false, async |browser| browser.exists("#sub-item-of").await).await;
    browser.type_into("#title", "Payment page").await;
    browser.click("form.stacked button[type=submit]").await;
    let on_another_item = async |browser: &Browser| {
        browser.path().await.trim_start_matches("/items/").parse::<i64>().is_ok_and(|id| id != parent)
    };
    browser.wait_for("the sub-item's page", false, on_another_item).await;
    assert!(browser.text("#parent-item").await.contains("Launch the shop"));

    browser.goto(&app.url(&format!("/items/{parent}"))).await;
    assert!(browser.text("ul.tree").await.contains("Payment page"));
    assert!(browser.text("#sub-items").await.contains("0/1 done"));
    browser.click("#link-kind option[value='blocked_by']").await;
    browser.type_into("#link-target", &format!("#{other}")).await;
    browser.click("#link-form button").await;
    browser.wait_for("the link", false, async |browser| browser.exists("ul.links form").await).await;
    let links = browser.text("ul.links").await;
    assert!(links.contains("is blocked by") && links.contains("Pick a payment provider"), "{links}");
    assert!(browser.path().await.ends_with(&format!("/items/{parent}")));

    // l reaches the label menu; choosing one and Add puts it on the item.
    browser.press("l").await;
    assert_eq!(browser.focused("id").await, "add-label");
    browser.click("#add-label option[value='1']").await;
    browser.click("form.add-label button").await;
    browser.wait_for("the label", false, async |browser| browser.exists("ul.label-list form").await).await;
    assert!(browser.text("ul.label-list").await.contains("checkout"));
    assert!(!browser.exists("#add-label").await, "no label is left to add");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_developer_previews_a_mention_then_edits_and_deletes_the_comment() {
    let Some(browser) = Browser::start("browser comment scenario").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_project("WEB", false).await;
    let (dana, eve) = (app.create_user("dana").await, app.create_user("eve").await);
    app.add_member("WEB", &dana, "developer").await;
    app.add_member("WEB", &eve, "developer").await;
    let item = dana.create_item("WEB", "Checkout button is grey").await;
    let item_path = format!("/items/{}", item["id"]);
    browser.sign_in(&app.address, &item_path, "dana", USER_PASSWORD).await;

    // Preview: the mention is a link, the text stays in the box, nothing is saved.
    browser.type_into("#comment-body", "Could you look, @eve? It is `disabled`.").await;
    browser.click("#comment-form button[name=preview]").await;
    browser.wait_for("the preview", false, async |browser| browser.exists("#preview a.mention").await).await;
    assert_eq!(browser.text("#preview a.mention").await, "@eve");
    assert_eq!(browser.text("#preview code").await, "disabled");
    assert_eq!(
        browser.find("#comment-body").await.prop("value").await.unwrap().as_deref(),
        Some("Could you look, @eve? It is `disabled`.")
    );
    assert_eq!(app.count_rows("comments"), 0, "a preview saves nothing");

    // Posted: eve is told by a mention.
    browser.click("#comment-form button.primary").await;
    browser.wait_for("the comment", false, async |browser| browser.exists("article.comment a.mention").await).await;
    assert_eq!(app.count_rows(&format!("mail_outbox WHERE event = 'mentioned' AND recipient_id = {}", eve.user_id)), 1);

    // Edited on its own page: the page marks it.
    browser.click("article.comment .comment-actions a").await;
    browser.wait_for("the edit page", false, async |browser| browser.path().await.ends_with("/edit")).await;
    browser.type_into("#comment-body", "Fixed by clearing the cache.").await;
    browser.click("form.stacked button.primary").await;
    browser.wait_for("the edited comment", false, async |browser| browser.path().await == item_path).await;
    assert!(browser.text("article.comment .markdown").await.contains("Fixed by clearing the cache."));
    assert!(browser.text("article.comment .meta").await.contains("edited"));

    // Deleted after the page's own dialog.
    browser.click("article.comment .comment-actions button").await;
    browser.wait_for("the dialog", false, async |browser| browser.exists("dialog#confirm[open]").await).await;
    browser.click("dialog#confirm [data-confirm-yes]").await;
    browser.wait_for("the marker", false, async |browser| browser.exists("article.comment.deleted").await).await;
    assert!(browser.text("article.comment.deleted").await.contains("Comment deleted by dana"));
    browser.quit().await;
}

/// Pastes a 1×1 PNG into the field, as a browser does with an image on the clipboard.
async fn paste_image(browser: &Browser, css: &str) {
    let pasted: bool = browser
        .evaluate(&format!(
            "(function () {{
                var bytes = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='), function (c) {{ return c.charCodeAt(0); }});
                var clipboard = new DataTransfer();
                clipboard.items.add(new File([bytes], 'image.png', {{ type: 'image/png' }}));
                var field = document.querySelector('{css}');
                field.focus();
                return !field.dispatchEvent(new ClipboardEvent('paste', {{ clipboardData: clipboard, bubbles: true, cancelable: true }}));
            }})()"
        ))
        .await;
    assert!(pasted, "the page took the paste");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_pasted_image_is_attached_and_shown_in_the_comment() {
    let Some(browser) = Browser::start("browser pasted image scenario").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_project("WEB", false).await;
    let dana = app.create_user("dana").await;
    app.add_member("WEB", &dana, "developer").await;
    let item = dana.create_item("WEB", "Chart axis is cut off").await;
    let item_path = format!("/items/{}", item["id"]);
    browser.sign_in(&app.address, &item_path, "dana", USER_PASSWORD).await;

    browser.type_into("#comment-body", "Like this:\n").await;
    paste_image(&browser, "#comment-body").await;
    let value = async |browser: &Browser| -> String {
        browser.find("#comment-body").await.prop("value").await.unwrap().unwrap_or_default()
    };
    browser
        .wait_for("the image named in the text", false, async |browser| value(browser).await.contains("](attachment:"))
        .await;
    let text = value(&browser).await;
    assert!(text.starts_with("Like this:\n![](attachment:pasted-") && text.contains(".png)"), "{text:?}");
    assert_eq!(app.count_rows("attachments"), 1);

    browser.click("#comment-form button.primary").await;
    browser.wait_for("the comment", false, async |browser| browser.exists("article.comment .markdown img").await).await;
    let source = browser.attributes("article.comment .markdown img", "src").await.remove(0);
    assert!(source.starts_with("/api/v1/attachments/") && source.ends_with("/image"), "{source}");
    let image = reqwest::Client::new()
        .get(app.url(&source))
        .header("Cookie", browser.session_cookie_header().await)
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/png");

    // Into a private note, no: the attachment would be every reader's.
    browser.click("#comment-private").await;
    paste_image(&browser, "#comment-body").await;
    browser.wait_for("the refusal", false, async |browser| browser.exists(".paste-error").await).await;
    assert!(browser.text(".paste-error").await.contains("private note"));
    assert_eq!(app.count_rows("attachments"), 1);
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_choosing_the_project_of_a_new_item_offers_its_people() {
    let Some(browser) = Browser::start("new item redrawn for its project").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_project("WEB", false).await;
    let dana = app.create_user("dana").await;
    app.add_member("WEB", &dana, "developer").await;
    browser.sign_in(&app.address, "/items/new", "admin", ADMIN_PASSWORD).await;
    assert!(!browser.exists("#assignee_id").await);
    assert!(!browser.find("button.redraw").await.is_displayed().await.unwrap(), "the script chooses for Show");
    browser.type_into("#title", "Typed before choosing").await;
    browser.click("#project option[value='WEB']").await;
    browser.wait_for("the people of WEB", false, async |browser| browser.exists("#assignee_id").await).await;
    assert_eq!(browser.find("#title").await.prop("value").await.unwrap().as_deref(), Some("Typed before choosing"));
    assert!(browser.exists(&format!("#assignee_id option[value='{}']", dana.user_id)).await);
    assert_eq!(browser.focused("id").await, "project", "the focus stays on the choice");
    assert_eq!(app.count_rows("items"), 0, "nothing created");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_times_are_shown_in_the_zone_the_user_chose() {
    let Some(browser) = Browser::start("times in the chosen zone").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_project("WEB", false).await;
    let item = app.admin.create_item("WEB", "Clock drift").await;
    let chose = app.admin.patch("/api/v1/users/me", json!({"time_zone": "Asia/Tokyo"})).await;
    assert_eq!(chose.status, StatusCode::OK, "{}", chose.body);
    let path = format!("/items/{}", item["id"]);
    browser.sign_in(&app.address, &path, "admin", ADMIN_PASSWORD).await;
    let exact = "document.querySelector('.item-fields time[datetime]').title";
    browser
        .wait_for("the exact time in Tokyo's zone", false, async |browser| {
            browser.evaluate::<String>(exact).await.contains("GMT+9")
        })
        .await;
    browser.quit().await;
}
