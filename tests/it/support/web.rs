//! `WebClient`: a browser without JavaScript, for page tests. Keeps cookies, does not
//! follow redirects (tests assert where they lead), and fills in the CSRF token the way a
//! page's hidden field does.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

pub struct WebClient {
    pub address: String,
    pub client: reqwest::Client,
}

/// A response as a browser would see it.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|value| value.to_str().ok())
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("")
    }

    /// The value of the first hidden field with this name.
    pub fn hidden_field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_string())
    }
}

impl WebClient {
    pub fn new(address: &str) -> WebClient {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        WebClient { address: address.to_string(), client }
    }

    /// Signs in through the sign-in form.
    pub async fn sign_in(address: &str, login: &str, password: &str) -> WebClient {
        let web = WebClient::new(address);
        let reply = web.sign_in_with(login, password, "/").await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "signing in as {login}: {}", reply.body);
        web
    }

    pub async fn sign_in_with(&self, login: &str, password: &str, next: &str) -> Page {
        let form = self.get(&format!("/signin?next={}", urlencoded(next))).await;
        let form_token = form.hidden_field("form_token").expect("sign-in form token");
        let next = form.hidden_field("next").expect("return path field");
        self.post_form(
            "/signin",
            &[("login", login), ("password", password), ("next", &next), ("form_token", &form_token)],
        )
        .await
    }

    async fn read(response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.expect("response body");
        Page { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Page {
        WebClient::read(self.client.get(format!("{}{path}", self.address)).send().await.expect("GET")).await
    }

    /// Posts exactly these fields.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let response = self.client.post(format!("{}{path}", self.address)).form(fields).send().await.expect("POST");
        WebClient::read(response).await
    }

    /// The session's CSRF token, as the pages embed it.
    pub async fn csrf_token(&self) -> String {
        self.get("/items").await.hidden_field("csrf_token").expect("csrf token on the page")
    }

    /// Posts the fields with the session's CSRF token, like a form on a page.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf_token().await;
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_form(path, &all).await
    }

    /// Posts a multipart form: the given text fields, then one file.
    pub async fn upload(&self, path: &str, fields: &[(&str, &str)], file_name: &str, content: Vec<u8>) -> Page {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        form = form.part("file", reqwest::multipart::Part::bytes(content).file_name(file_name.to_string()));
        let response =
            self.client.post(format!("{}{path}", self.address)).multipart(form).send().await.expect("upload");
        WebClient::read(response).await
    }
}

pub fn urlencoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
