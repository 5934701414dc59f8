//! The look in headless Chromium: list rows on one line on a laptop screen, cards and no
//! sideways scrolling on a phone, the item's fields before its text on a phone, status
//! colours by category, times in the browser's zone, filters that apply on change.

use serde_json::json;

use crate::support::app::ADMIN_PASSWORD;
use crate::support::browser::Browser;
use crate::support::{Backend, TestApp};

/// A project with items in every status category, long titles, an assignee, due dates and
/// every priority; returns the id of one item.
async fn busy_project(app: &TestApp) -> i64 {
    app.create_project("WEB", false).await;
    let dana = app.create_user("dana-with-a-long-login").await;
    app.add_member("WEB", &dana, "developer").await;
    let mut last = 0;
    // (status moves from New, priority)
    let plans: [(&[i64], i64); 8] =
        [(&[], 4), (&[2], 3), (&[3], 2), (&[5], 1), (&[3, 4], 2), (&[2], 4), (&[], 1), (&[2, 3], 3)];
    for (number, (moves, priority)) in plans.into_iter().enumerate() {
        let title = format!(
            "Item {number}: the export to the accounting system drops every second line when the file is larger than the limit"
        );
        let created = app
            .admin
            .post(
                "/api/v1/items",
                json!({"project": "WEB", "title": title, "priority_id": priority, "assignee_id": dana.user_id,
                       "due_date": format!("2026-12-{:02}", number + 10),
                       "description": "See https://example.com/a/long/path/that/goes/on/and/on/and/on/for/quite/a/while/indeed"}),
            )
            .await
            .body;
        last = created["id"].as_i64().unwrap();
        for (version, status) in moves.iter().enumerate() {
            let moved = app
                .admin
                .patch(&format!("/api/v1/items/{last}"), json!({"version": version + 1, "status_id": status}))
                .await;
            assert!(moved.status.is_success(), "{}", moved.body);
        }
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_list_rows_stay_on_one_line_at_1366_pixels() {
    let Some(browser) = Browser::start("one line per row").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let item = busy_project(&app).await;
    browser.resize(1366, 900).await;
    browser.sign_in(&app.address, "/items?state=all", "admin", ADMIN_PASSWORD).await;
    for path in ["/items?state=all", "/projects/WEB?state=all", "/"] {
        browser.goto(&app.url(path)).await;
        browser.find("table.items tbody tr").await;
        let heights: Vec<f64> = browser
            .evaluate(
                "[...document.querySelectorAll('table.items tbody tr')].map(row => row.getBoundingClientRect().height)",
            )
            .await;
        let line: f64 = browser.evaluate("parseFloat(getComputedStyle(document.body).lineHeight)").await;
        assert!(!heights.is_empty(), "{path}");
        for height in &heights {
            assert!(*height < line * 2.0, "{path}: a row is {height} px high, a line {line} px: {heights:?}");
        }
        let wrapped: Vec<String> = browser
            .evaluate(
                "[...document.querySelectorAll('table.items .badge, table.items time, table.items .priority, table.items td')]\
                 .filter(element => element.getClientRects().length > 1 || element.getBoundingClientRect().height > 2.2 * parseFloat(getComputedStyle(element).fontSize) + 14)\
                 .map(element => element.outerHTML)",
            )
            .await;
        assert!(wrapped.is_empty(), "{path}: these wrap: {wrapped:?}");
        let scroll: bool =
            browser.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth").await;
        assert!(scroll, "{path} scrolls sideways");
    }
    // Status colours by category, links plain in lists and underlined in running text.
    browser.goto(&app.url("/items?state=all")).await;
    let colours: Vec<String> = browser
        .evaluate(
            "['open', 'progress', 'done', 'rejected'].map(category => getComputedStyle(document.querySelector('table.items .badge.status-' + category)).color)",
        )
        .await;
    let mut distinct = colours.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{colours:?}");
    let list_link: String =
        browser.evaluate("getComputedStyle(document.querySelector('table.items td.title a')).textDecorationLine").await;
    assert_eq!(list_link, "none");
    browser.goto(&app.url(&format!("/items/{item}"))).await;
    let text_link: String =
        browser.evaluate("getComputedStyle(document.querySelector('#description a')).textDecorationLine").await;
    assert_eq!(text_link, "underline");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_pages_fit_a_360_pixel_wide_screen() {
    let Some(browser) = Browser::start("browser small screen").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let busy = busy_project(&app).await;
    for definition in [
        json!({"key": "workaround", "name": "Workaround", "type": "long_text"}),
        json!({"key": "platforms", "name": "Platforms", "type": "multi_choice", "choices": ["linux", "mac", "windows"]}),
        json!({"key": "ticket", "name": "Support ticket", "type": "url"}),
    ] {
        assert!(app.admin.post("/api/v1/fields", definition).await.status.is_success());
    }
    let description = "Some **Markdown**\n\n```\na code line that is much longer than a phone screen is wide, really\n```\n\n- [ ] a task";
    let item = app
        .admin
        .post(
            "/api/v1/items",
            json!({"project": "WEB", "title": "A title long enough to wrap on a phone", "description": description,
                   "fields": {"workaround": "Split it:\n\n- by month\n- then join", "platforms": ["linux", "mac"],
                              "ticket": "https://support.example.com/tickets/4711/with/a/long/path"}}),
        )
        .await
        .body;
    app.admin.post(&format!("/api/v1/items/{busy}/comments"), json!({"body": "A comment with https://example.com/a/very/long/url/that/does/not/fit/on/a/phone/screen/at/all"})).await;
    browser.resize(360, 800).await;
    browser.sign_in(&app.address, "/", "admin", ADMIN_PASSWORD).await;
    for path in [
        "/".to_string(),
        "/items?state=all".into(),
        "/projects".into(),
        "/projects/WEB".into(),
        "/projects/WEB/settings".into(),
        format!("/items/{}", item["id"]),
        format!("/items/{busy}"),
        "/items/new".into(),
        "/search?q=export".into(),
        "/profile".into(),
        "/admin".into(),
        "/admin/cluster".into(),
        "/admin/users".into(),
        "/admin/mail".into(),
        "/admin/workflow".into(),
    ] {
        browser.goto(&app.url(&path)).await;
        browser.find("main h1").await;
        let page_width: i64 = browser.evaluate("document.documentElement.scrollWidth").await;
        let viewport: i64 = browser.evaluate("document.documentElement.clientWidth").await;
        assert!(page_width <= viewport, "{path} is {page_width} px wide in a {viewport} px window");
        // Lists are cards: each row a box of its own, no table row to scroll.
        let row_displays: Vec<String> = browser
            .evaluate(
                "[...document.querySelectorAll('table.list > tbody > tr')].map(row => getComputedStyle(row).display)",
            )
            .await;
        assert!(row_displays.iter().all(|display| display != "table-row"), "{path}: {row_displays:?}");
        let overflowing: Vec<String> = browser
            .evaluate("[...document.querySelectorAll('.table-wrap')].filter(wrap => wrap.scrollWidth > wrap.clientWidth && !wrap.querySelector('table.matrix')).map(wrap => wrap.outerHTML.slice(0, 200))")
            .await;
        assert!(overflowing.is_empty(), "{path}: {overflowing:?}");
    }
    // A long text, several choices and a URL open to be changed within the width.
    browser.goto(&app.url(&format!("/items/{}", item["id"]))).await;
    for key in ["platforms", "workaround", "ticket"] {
        browser.click(&format!("details:has(#set-{key}) > summary")).await;
    }
    let page_width: i64 = browser.evaluate("document.documentElement.scrollWidth").await;
    assert!(page_width <= 360, "the opened panels are {page_width} px wide");
    let boxes: Vec<Vec<f64>> = browser
        .evaluate("['#set-platforms', '#set-workaround', '#set-ticket'].map(selector => { const r = document.querySelector(selector).getBoundingClientRect(); return [r.left, r.right, r.height]; })")
        .await;
    assert!(
        boxes.iter().all(|found| found[0] >= 0.0 && found[1] <= 360.0 && found[2] > 10.0 && found[2] < 300.0),
        "{boxes:?}"
    );
    // The item's fields and actions come before its description and comments.
    browser.goto(&app.url(&format!("/items/{busy}"))).await;
    let order: Vec<f64> = browser
        .evaluate("['.actions', '.item-fields', '#description', '#comments'].map(selector => document.querySelector(selector).getBoundingClientRect().top)")
        .await;
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "actions, fields, description, comments: {order:?}");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_filters_apply_on_change_and_times_read_in_the_browsers_zone() {
    let Some(browser) = Browser::start("filters on change").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    busy_project(&app).await;
    browser.sign_in(&app.address, "/items", "admin", ADMIN_PASSWORD).await;
    assert!(!browser.find("form.filters button.apply").await.is_displayed().await.unwrap(), "no Apply button needed");
    assert_eq!(browser.attributes("table.items tbody tr", "class").await.len(), 6, "open items by default");
    browser.click("#f-state option[value='closed']").await;
    browser
        .wait_for("the closed items", false, async |browser| {
            browser.driver.current_url().await.unwrap().query() == Some("state=closed")
        })
        .await;
    assert_eq!(browser.attributes("table.items tbody tr", "class").await.len(), 2);
    browser.click("#f-priority option[value='2']").await;
    browser
        .wait_for("the second filter", false, async |browser| {
            browser.driver.current_url().await.unwrap().query() == Some("state=closed&priority=2")
        })
        .await;
    assert_eq!(browser.attributes("table.items tbody tr", "class").await.len(), 1);

    // The script shows times in the browser's zone, with the zone named.
    let title = browser.attributes("table.items td.updated time", "title").await.remove(0);
    let expected: String = browser
        .evaluate(
            "new Intl.DateTimeFormat(undefined, {year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short'})\
             .format(new Date(document.querySelector('table.items td.updated time').getAttribute('datetime')))",
        )
        .await;
    assert_eq!(title, expected);
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_without_the_script_filters_apply_with_the_button_and_times_are_utc() {
    let Some(browser) = Browser::start_without_script("filters without script").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    busy_project(&app).await;
    browser.sign_in(&app.address, "/items", "admin", ADMIN_PASSWORD).await;
    let apply = browser.find("form.filters button.apply").await;
    assert!(apply.is_displayed().await.unwrap());
    browser.click("#f-state option[value='closed']").await;
    assert_eq!(browser.driver.current_url().await.unwrap().query(), None, "nothing happens before Apply");
    apply.click().await.unwrap();
    browser
        .wait_for("the closed items", false, async |browser| {
            browser.driver.current_url().await.unwrap().query().is_some_and(|query| query.contains("state=closed"))
        })
        .await;
    assert_eq!(browser.attributes("table.items tbody tr", "class").await.len(), 2);
    let title = browser.attributes("table.items td.updated time", "title").await.remove(0);
    assert!(title.ends_with(" UTC") && title.len() == "2026-12-02 12:00 UTC".len(), "{title}");
    browser.quit().await;
}
