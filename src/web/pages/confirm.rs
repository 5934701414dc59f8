//! A confirmation step before an action that is hard to take back (making a user an
//! administrator, deactivating a user, leaving the cluster without a master, deleting a
//! workflow entry). The action's form first posts without `confirm=yes`; its handler then
//! answers with a page that says what will happen and posts the same fields again with
//! `confirm=yes`. With the page script, the button's `data-confirm…` attributes (the same
//! `Confirmation`, see `macros.html`) open a native `<dialog>` on the page instead, and the
//! script adds the field, so the server need not ask.

use actix_web::HttpResponse;
use askama::Template;

use crate::web::pages::{Chrome, page};

use crate::web::pages::error::PageError;

use crate::web::pages::viewer::Viewer;

/// What the user is asked before an action.
pub struct Confirmation {
    /// The question: "Deactivate nina?"
    pub title: String,
    /// What will happen.
    pub message: String,
    /// The confirming button's label.
    pub button: String,
}

/// Whether the form carries the confirmation.
pub fn is_confirmed(confirm: Option<&str>) -> bool {
    confirm == Some("yes")
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    chrome: Chrome,
    confirmation: &'a Confirmation,
    /// Where the form posts, and the fields it sends again.
    action: &'a str,
    fields: &'a [(&'a str, String)],
    /// The page to go back to.
    cancel: &'a str,
}

/// The confirmation page for a form that came without `confirm=yes`.
pub fn ask(
    viewer: &Viewer,
    confirmation: &Confirmation,
    action: &str,
    fields: &[(&str, String)],
    cancel: &str,
) -> Result<HttpResponse, PageError> {
    page(&ConfirmPage { chrome: viewer.chrome(), confirmation, action, fields, cancel })
}
