//! Refused inbound mail: listed with the reason, reprocessed after the cause was fixed,
//! or dismissed. The outcome is confirmed on the page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::error::Error;
use crate::mail::failures::{self, MailFailure};
use crate::mail::inbound::Outcome;
use crate::web::AppState;
use crate::web::error::status_of;
use crate::web::pages::error::PageError;
use crate::web::pages::viewer::{AdminViewer, Viewer, read_form};
use crate::web::pages::{Chrome, Notice, human_size, render};

/// How many refused mails the page lists.
const LISTED: i64 = 200;

pub struct FailureRow {
    pub failure: MailFailure,
    pub size: String,
}

#[derive(Template)]
#[template(path = "admin/mail.html")]
struct MailPage {
    chrome: Chrome,
    failures: Vec<FailureRow>,
    notice: Option<Notice>,
}

async fn mail_page(
    state: &AppState,
    viewer: &Viewer,
    status_code: StatusCode,
    notice: Option<Notice>,
) -> Result<HttpResponse, PageError> {
    let listed = state.database.run(|connection| failures::list(connection, LISTED)).await?;
    let failures =
        listed.into_iter().map(|failure| FailureRow { size: human_size(failure.raw_size), failure }).collect();
    render(status_code, &MailPage { chrome: viewer.chrome(), failures, notice })
}

pub async fn show_failures(state: web::Data<AppState>, viewer: AdminViewer) -> Result<HttpResponse, PageError> {
    mail_page(&state, &viewer, StatusCode::OK, None).await
}

/// What became of a reprocessed mail, in words.
fn describe(id: i64, outcome: &Outcome) -> Notice {
    let (kind, text) = match outcome {
        Outcome::Created(item_id) => ("ok", format!("Mail {id} became item #{item_id}.")),
        Outcome::Commented(item_id, _) => ("ok", format!("Mail {id} became a comment on item #{item_id}.")),
        Outcome::AlreadyStored => ("ok", format!("Mail {id} had already been stored; nothing new was created.")),
        Outcome::AlreadyRefused => ("warn", format!("Mail {id} is still refused.")),
        Outcome::Failed(reason) => ("warn", format!("Mail {id} was refused again: {reason}")),
    };
    Notice { kind, text }
}

/// The reprocess and delete forms carry only their CSRF token.
#[derive(serde::Deserialize)]
pub struct ActionForm {}

pub async fn reprocess_failure(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let _: ActionForm = read_form(&viewer, &body)?;
    let id = path.into_inner();
    let (files, settings) = (state.files.clone(), state.settings.clone());
    let outcome = state.database.write(move |connection| failures::reprocess(connection, &files, &settings, id)).await;
    let (status_code, notice) = match outcome {
        Ok(outcome) => (StatusCode::OK, describe(id, &outcome)),
        Err(error @ (Error::Conflict(_) | Error::NotFound(_))) => {
            (status_of(&error), Notice { kind: "error", text: error.message() })
        }
        Err(other) => return Err(other.into()),
    };
    mail_page(&state, &viewer, status_code, Some(notice)).await
}

pub async fn delete_failure(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let _: ActionForm = read_form(&viewer, &body)?;
    let id = path.into_inner();
    let (status_code, notice) = match state.database.write(move |connection| failures::delete(connection, id)).await {
        Ok(()) => (StatusCode::OK, Notice { kind: "ok", text: format!("Mail {id} was dismissed.") }),
        Err(error @ Error::NotFound(_)) => (StatusCode::NOT_FOUND, Notice { kind: "error", text: error.message() }),
        Err(other) => return Err(other.into()),
    };
    mail_page(&state, &viewer, status_code, Some(notice)).await
}
