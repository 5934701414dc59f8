//! Signing in and out from the browser. The sign-in form has no session yet, so it is
//! protected against login CSRF by a double-submit cookie (a random value in a short-lived
//! cookie and in the form) and the same-origin check; sign-out is a CSRF-checked POST.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use rand::RngCore;
use serde::Deserialize;

use crate::error::Error;
use crate::model::auth;
use crate::web::AppState;
use crate::web::auth::{expired_session_cookie, session_cookie};
use crate::web::input;
use crate::web::pages::error::PageError;
use crate::web::pages::viewer::{Viewer, local_path, read_form};
use crate::web::pages::{Chrome, render};

/// The cookie that pairs the sign-in form with the browser that loaded it.
const SIGN_IN_COOKIE: &str = "baton_signin";

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    chrome: Chrome,
    next: String,
    login: String,
    message: Option<String>,
    form_token: String,
}

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn sign_in_cookie(value: String) -> Cookie<'static> {
    Cookie::build(SIGN_IN_COOKIE, value)
        .path("/signin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::hours(1))
        .finish()
}

fn sign_in_page(
    status: StatusCode,
    next: String,
    login: String,
    message: Option<String>,
) -> Result<HttpResponse, PageError> {
    let form_token = random_token();
    let page = SignInPage { chrome: Chrome::default(), next, login, message, form_token: form_token.clone() };
    let mut response = render(status, &page)?;
    response.add_cookie(&sign_in_cookie(form_token)).map_err(|error| Error::internal("sign-in cookie", error))?;
    Ok(response)
}

pub async fn show_sign_in(query: web::Query<SignInQuery>) -> Result<HttpResponse, PageError> {
    let next = query.into_inner().next.filter(|next| local_path(next).is_some()).unwrap_or_else(|| "/".into());
    sign_in_page(StatusCode::OK, next, String::new(), None)
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    form_token: String,
}

pub async fn sign_in(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: SignInForm = input::parse_form(&body)?;
    let cookie_token = request.cookie(SIGN_IN_COOKIE).map(|cookie| cookie.value().to_string());
    if form.form_token.is_empty() || cookie_token.as_deref() != Some(form.form_token.as_str()) {
        return Err(PageError::Csrf);
    }
    let next = local_path(&form.next).unwrap_or("/").to_string();
    let address = state.client_address(&request).map_or_else(|| "unknown".into(), |address| address.to_string());
    let settings = state.settings.sessions.clone();
    let (login, password) = (form.login.clone(), form.password);
    let outcome =
        state.database.write(move |connection| auth::sign_in(connection, &login, &password, &address, &settings)).await;
    match outcome {
        Ok(grant) => {
            let mut used_form_cookie = sign_in_cookie(String::new());
            used_form_cookie.make_removal();
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, next))
                .cookie(session_cookie(&state, grant.secret, grant.lifetime))
                .cookie(used_form_cookie)
                .finish())
        }
        Err(Error::Unauthenticated(message)) => {
            sign_in_page(StatusCode::UNAUTHORIZED, next, form.login, Some(capitalised(&message)))
        }
        Err(Error::RateLimited(message)) => {
            sign_in_page(StatusCode::TOO_MANY_REQUESTS, next, form.login, Some(capitalised(&message)))
        }
        Err(other) => Err(other.into()),
    }
}

fn capitalised(message: &str) -> String {
    let mut characters = message.chars();
    characters.next().map(|first| first.to_uppercase().chain(characters).collect()).unwrap_or_default()
}

/// The sign-out form carries nothing but its CSRF token.
#[derive(Deserialize)]
pub struct SignOutForm {}

pub async fn sign_out(state: web::Data<AppState>, viewer: Viewer, body: web::Bytes) -> Result<HttpResponse, PageError> {
    let _: SignOutForm = read_form(&viewer, &body)?;
    let secret = viewer.session_secret;
    state.database.write(move |connection| auth::sign_out(connection, &secret)).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/signin"))
        .cookie(expired_session_cookie(&state))
        .finish())
}
