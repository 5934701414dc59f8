use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Backend, TestApp};

/// Every operation in the OpenAPI document is routed: without credentials it answers
/// 401 (or works, for the few public ones), never "no endpoint".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document: Value = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    assert_eq!(document["openapi"].as_str().map(|version| version.starts_with("3.")), Some(true));
    let paths = document["paths"].as_object().expect("paths");
    let client = reqwest::Client::new();
    let mut operations = 0;
    for (path, item) in paths {
        let concrete =
            path.replace("{project}", "OPS").replace("{id}", "1").replace("{user_id}", "1").replace("{name}", "prune");
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(operation) = item.get(method) else { continue };
            operations += 1;
            let public = operation.get("security").and_then(Value::as_array).is_some_and(Vec::is_empty);
            let response = client
                .request(method.to_uppercase().parse().unwrap(), app.url(&concrete))
                .header("Content-Type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(!message.starts_with("no endpoint"), "{method} {path} is documented but not routed");
            if public {
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path} is documented as public");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} must need credentials");
            }
        }
    }
    assert!(operations >= 30, "only {operations} operations documented");
}
