//! Headless Chromium driven through chromedriver (Debian `chromium` and `chromium-driver`,
//! installed by `scripts/test`). `Browser::start` returns None when they are missing and
//! `CI` is unset (the test then says it skipped); with `CI` set a missing browser fails the
//! test. chromedriver and the Chromium it started are killed when the `Browser` is dropped.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMIUM_ARGUMENTS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
];

/// One browser at a time: Chromium is heavy for a 2-core machine.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Browser {
    pub driver: WebDriver,
    _chromedriver: ChromeDriver,
    _profile: tempfile::TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// The chromedriver process, in its own process group so that dropping it also ends the
/// Chromium processes it started, even when a failing test never quits the session.
struct ChromeDriver(Child);

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group of our own child.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("port").port()
}

impl Browser {
    /// A fresh browser (own profile, so no cookies), or None when skipping is allowed.
    pub async fn start(test: &str) -> Option<Browser> {
        Browser::launch(test, true).await
    }

    /// A fresh browser that runs no page script, as with JavaScript switched off.
    pub async fn start_without_script(test: &str) -> Option<Browser> {
        Browser::launch(test, false).await
    }

    async fn launch(test: &str, page_scripts: bool) -> Option<Browser> {
        let missing: Vec<&str> =
            [CHROMEDRIVER, CHROMIUM].into_iter().filter(|path| !Path::new(path).exists()).collect();
        if !missing.is_empty() {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{test}: CI is set but {missing:?} are missing; scripts/test installs chromium and chromium-driver"
                );
            }
            eprintln!("{test}: skipped, {missing:?} not installed (scripts/test installs them)");
            return None;
        }
        let turn = ONE_BROWSER.lock().await;
        let port = free_port();
        let chromedriver = ChromeDriver(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting chromedriver"),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("browser profile folder");
        // chromedriver answers to browserName "chrome"; the binary is Debian's Chromium.
        let mut capabilities = DesiredCapabilities::chrome();
        capabilities.set_binary(CHROMIUM).expect("binary");
        for argument in CHROMIUM_ARGUMENTS {
            capabilities.add_arg(argument).expect("argument");
        }
        capabilities.add_arg(&format!("--user-data-dir={}", profile.path().display())).expect("profile");
        if !page_scripts {
            // The content setting blocks the pages' scripts; chromedriver's own still run.
            let prefs = serde_json::json!({"profile.managed_default_content_settings.javascript": 2});
            capabilities.add_experimental_option("prefs", prefs).expect("prefs");
        }
        let driver = WebDriver::new(format!("http://127.0.0.1:{port}"), capabilities).await.expect("browser session");
        Some(Browser { driver, _chromedriver: chromedriver, _profile: profile, _turn: turn })
    }

    /// Ends the browser session cleanly (chromedriver is killed on drop either way).
    pub async fn quit(self) {
        self.driver.clone().quit().await.expect("closing the browser");
    }

    pub async fn goto(&self, url: &str) {
        self.driver.goto(url).await.unwrap_or_else(|error| panic!("opening {url}: {error}"));
    }

    /// The first element matching, waiting for it while a page loads.
    pub async fn find(&self, css: &str) -> WebElement {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut found) = self.driver.find_all(By::Css(css)).await
                && !found.is_empty()
            {
                return found.swap_remove(0);
            }
            assert!(Instant::now() < deadline, "no element {css} on the page: {}", self.source().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self.driver.find_all(By::Css(css)).await.expect("querying the page").is_empty()
    }

    /// The element's text; looked up again if the page was replaced in between.
    pub async fn text(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(error) => assert!(Instant::now() < deadline, "reading the text of {css}: {error}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn path(&self) -> String {
        self.driver.current_url().await.expect("current url").path().to_string()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clearing a field");
        field.send_keys(text).await.expect("typing");
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|error| panic!("clicking {css}: {error}"));
    }

    /// Waits until the condition on the page holds, reloading between looks when asked.
    pub async fn wait_for(&self, what: &str, reload: bool, condition: impl AsyncFn(&Browser) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !condition(self).await {
            assert!(Instant::now() < deadline, "waited in vain for {what}: {}", self.source().await);
            tokio::time::sleep(Duration::from_millis(200)).await;
            if reload {
                self.driver.refresh().await.expect("reloading");
            }
        }
    }

    /// Presses keys as a person would, into whatever has the focus.
    pub async fn press(&self, keys: &str) {
        self.driver
            .action_chain()
            .send_keys(keys)
            .perform()
            .await
            .unwrap_or_else(|error| panic!("pressing {keys:?}: {error}"));
    }

    /// Presses a key with Control held, into whatever has the focus (`press` releases each key
    /// before the next, so it cannot hold a modifier).
    pub async fn press_with_control(&self, key: Key) {
        self.driver
            .action_chain()
            .key_down(Key::Control)
            .send_keys(key)
            .key_up(Key::Control)
            .perform()
            .await
            .unwrap_or_else(|error| panic!("pressing Control with a key: {error}"));
    }

    /// An attribute of the element that has the focus (empty when it has none).
    pub async fn focused(&self, attribute: &str) -> String {
        let element = self.driver.active_element().await.expect("the focused element");
        element.attr(attribute).await.expect("reading an attribute").unwrap_or_default()
    }

    /// An attribute of every element matching, in page order.
    pub async fn attributes(&self, css: &str, attribute: &str) -> Vec<String> {
        let mut values = Vec::new();
        for element in self.driver.find_all(By::Css(css)).await.expect("querying the page") {
            values.push(element.attr(attribute).await.expect("reading an attribute").unwrap_or_default());
        }
        values
    }

    /// Resizes the window to a screen of this size.
    pub async fn resize(&self, width: u32, height: u32) {
        self.driver.set_window_rect(0, 0, width, height).await.expect("resizing the window");
    }

    /// The value of a script expression run in the page (chromedriver runs it even when the
    /// page's own scripts are off).
    pub async fn evaluate<T: serde::de::DeserializeOwned>(&self, expression: &str) -> T {
        self.driver
            .execute(&format!("return {expression};"), Vec::new())
            .await
            .unwrap_or_else(|error| panic!("evaluating {expression}: {error}"))
            .convert()
            .unwrap_or_else(|error| panic!("reading the value of {expression}: {error}"))
    }

    pub async fn source(&self) -> String {
        self.driver.source().await.unwrap_or_default()
    }

    /// Signs in through the sign-in form, starting from `path` (which asks for it).
    pub async fn sign_in(&self, address: &str, path: &str, login: &str, password: &str) {
        self.goto(&format!("{address}{path}")).await;
        assert_eq!(self.path().await, "/signin", "an unauthenticated page leads to sign-in");
        self.type_into("#login", login).await;
        self.type_into("#password", password).await;
        self.click("form.stacked button[type=submit]").await;
        self.wait_for("signing in", false, async |browser| browser.path().await != "/signin").await;
    }

    pub async fn sign_out(&self) {
        self.click("header .account button").await;
        self.wait_for("signing out", false, async |browser| browser.path().await == "/signin").await;
    }

    /// The session cookie, as a `Cookie` header value for fetching what a link points to.
    pub async fn session_cookie_header(&self) -> String {
        let cookies = self.driver.get_all_cookies().await.expect("cookies");
        let session = cookies.iter().find(|cookie| cookie.name == "baton_session").expect("a session cookie");
        format!("baton_session={}", session.value)
    }
}
