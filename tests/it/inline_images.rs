//! Image attachments named in Markdown (`![](attachment:screen.png)`) show inline for readers
//! of the item, from an address that serves only real PNG, JPEG, GIF or WebP content, inline and
//! sandboxed; other files, SVG included, stay downloads.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::app::USER_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(image_attachments_show_inline_and_nothing_else_does);

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

async fn attach(api: &Api, item: &Value, name: &str, mime: &str, content: Vec<u8>, comment: Option<&Value>) -> i64 {
    let mut form = Form::new().part("file", Part::bytes(content).file_name(name.to_string()).mime_str(mime).unwrap());
    if let Some(comment) = comment {
        form = form.text("comment_id", comment.to_string());
    }
    let url = format!("{}/api/v1/items/{}/attachments", api.address, item["id"]);
    let reply = api.send(api.client.post(url).multipart(form)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_i64().unwrap()
}

async fn image_attachments_show_inline_and_nothing_else_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let (rep, dev) = (app.create_user("rep").await, app.create_user("dev").await);
    app.add_member("OPS", &rep, "reporter").await;
    app.add_member("OPS", &dev, "developer").await;
    let item = dev.create_item("OPS", "Broken layout").await;
    let screen = attach(&dev, &item, "screen shot.png", "image/png", PNG.to_vec(), None).await;
    let logo =
        attach(&dev, &item, "logo.svg", "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(), None)
            .await;
    let fake = attach(&dev, &item, "fake.png", "image/png", b"<html><script>alert(1)</script>".to_vec(), None).await;
    let note = dev
        .post(&format!("/api/v1/items/{}/comments", item["id"]), json!({"body": "Internal.", "private": true}))
        .await;
    let secret = attach(&dev, &item, "secret.png", "image/png", PNG.to_vec(), Some(&note.body["id"])).await;
    let description = "![The screen](attachment:screen%20shot.png) ![Logo](attachment:logo.svg) \
                       ![Gone](attachment:nope.png) ![Hidden](attachment:secret.png)";
    let version = item["version"].clone();
    let edited = dev
        .patch(&format!("/api/v1/items/{}", item["id"]), json!({"version": version, "description": description}))
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);

    // For a developer: the PNG inline, the SVG a link, an unknown name its alt text.
    let page =
        WebClient::sign_in(&app.address, "dev", USER_PASSWORD).await.get(&format!("/items/{}", item["id"])).await.body;
    assert!(page.contains(&format!(r#"<img src="/api/v1/attachments/{screen}/image" alt="The screen">"#)), "{page}");
    assert!(
        page.contains(&format!(r#"<a href="/api/v1/attachments/{logo}" rel="noopener noreferrer nofollow">Logo</a>"#)),
        "{page}"
    );
    assert!(!page.contains(&format!("/api/v1/attachments/{logo}/image")), "an SVG is never an image");
    assert!(page.contains(" Gone "), "an unknown attachment leaves its alt text: {page}");
    assert!(
        page.contains(&format!(r#"<img src="/api/v1/attachments/{secret}/image" alt="Hidden">"#)),
        "dev reads the private note's file"
    );
    assert_eq!(page.matches(r#"class="thumb""#).count(), 3, "thumbnails of the PNGs (the fake one too): {page}");

    // For a reporter the private note's file is not there: its alt text only.
    let shown =
        WebClient::sign_in(&app.address, "rep", USER_PASSWORD).await.get(&format!("/items/{}", item["id"])).await.body;
    assert!(!shown.contains(&format!("/api/v1/attachments/{secret}")) && shown.contains("Hidden"), "{shown}");
    assert_eq!(rep.get(&format!("/api/v1/attachments/{secret}/image")).await.status, StatusCode::NOT_FOUND);

    // The image address serves real images only, inline and sandboxed.
    let url = format!("{}/api/v1/attachments/{screen}/image", rep.address);
    let image = rep.client.get(url).bearer_auth(&rep.token).send().await.unwrap();
    assert_eq!(image.status(), StatusCode::OK);
    let headers = image.headers();
    assert_eq!(headers["content-type"], "image/png");
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("inline"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("sandbox"));
    for (id, what) in [(logo, "svg"), (fake, "html named .png")] {
        let refused = rep.get(&format!("/api/v1/attachments/{id}/image")).await;
        assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{what}: {}", refused.body);
        assert!(refused.body["error"]["message"].as_str().unwrap().contains("download it"), "{}", refused.body);
    }
    let mut big = PNG.to_vec();
    big.resize(10 * 1024 * 1024 + 1, 0);
    let huge = attach(&dev, &item, "huge.png", "image/png", big, None).await;
    assert_eq!(rep.get(&format!("/api/v1/attachments/{huge}/image")).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    let outsider = app.create_user("otto").await;
    assert_eq!(outsider.get(&format!("/api/v1/attachments/{screen}/image")).await.status, StatusCode::NOT_FOUND);

    // The preview shows the same.
    let preview =
        dev.post("/api/v1/markdown", json!({"text": "![s](attachment:screen%20shot.png)", "item": item["id"]})).await;
    assert!(
        preview.body["html"].as_str().unwrap().contains(&format!("/api/v1/attachments/{screen}/image")),
        "{}",
        preview.body
    );
}
