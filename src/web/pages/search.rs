//! The search results page: the query language of `search::query`, with project and
//! open/closed filters added as `field:value` terms, highlighted titles and snippets.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::error::Error;
use crate::model::project::{self, Project};
use crate::model::workflow::Workflow;
use crate::search::query::{self, SearchResults};
use crate::web::AppState;
use crate::web::pages::badges::Badges;
use crate::web::pages::error::PageError;
use crate::web::pages::viewer::Visit;
use crate::web::pages::{Chrome, page, see_other, url_with_query};

const PAGE_SIZE: usize = 20;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SearchForm {
    q: String,
    project: String,
    state: String,
    page: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    form: SearchForm,
    projects: Vec<Project>,
    results: Option<SearchResults>,
    badges: Badges,
    /// Why there are no results (search unavailable, a query it cannot read).
    problem: Option<String>,
    page_number: usize,
    previous_href: Option<String>,
    next_href: Option<String>,
}

/// The query text with the form's filters as `field:value` terms.
fn full_query(form: &SearchForm) -> String {
    let mut parts = vec![form.q.trim().to_string()];
    if !form.project.is_empty() {
        parts.push(format!("project:{}", form.project));
    }
    if matches!(form.state.as_str(), "open" | "closed") {
        parts.push(format!("status:{}", form.state));
    }
    parts.retain(|part| !part.is_empty());
    parts.join(" ")
}

pub async fn search_items(
    state: web::Data<AppState>,
    visit: Visit,
    form: web::Query<SearchForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let (text, asked_page) = (full_query(&form), form.page.clone());
    let (lookup, index) = (visit.clone(), state.search.clone());
    // Who looks and what the page shows: one database task.
    let (viewer, page_number, projects, workflow, outcome) = state
        .database
        .run(move |connection| {
            let viewer = lookup.viewer(connection)?;
            let page_number = if asked_page.is_empty() {
                1
            } else {
                asked_page
                    .parse::<usize>()
                    .ok()
                    .filter(|page| (1..=1000).contains(page))
                    .ok_or_else(|| Error::invalid("page", "must be a page number from 1 to 1000"))?
            };
            let projects = project::list_readable(connection, &viewer.user)?;
            let workflow = Workflow::clone(&*Workflow::at(connection, &viewer.definitions)?);
            if text.is_empty() {
                return Ok((viewer, page_number, projects, workflow, None));
            }
            let offset = (page_number - 1) * PAGE_SIZE;
            // A query the index cannot answer is shown on the page, not as an error page.
            let outcome =
                match query::search(connection, &index, &viewer.user, &viewer.definitions, &text, PAGE_SIZE, offset) {
                    Ok(results) => Ok(results),
                    // Beside the box it came from: no need to name the field.
                    Err(Error::Invalid(refusal)) => Err(refusal.message),
                    Err(error @ Error::Unavailable(_)) => Err(error.message()),
                    Err(other) => return Err(other),
                };
            Ok((viewer, page_number, projects, workflow, Some(outcome)))
        })
        .await
        .map_err(|error| visit.page_error(error))?;
    let (results, problem) = match outcome {
        None => (None, None),
        Some(Ok(results)) => (Some(results), None),
        Some(Err(problem)) => (None, Some(problem)),
    };
    if let Some(item) = results.as_ref().and_then(|results| results.item.as_ref()) {
        return Ok(see_other(&format!("/items/{}", item.id)));
    }
    let total = results.as_ref().map_or(0, |results| results.total);
    let page_href = |number: usize| {
        url_with_query(
            "/search",
            &[
                ("q", form.q.clone()),
                ("project", form.project.clone()),
                ("state", form.state.clone()),
                ("page", number.to_string()),
            ],
        )
    };
    let mut chrome = viewer.chrome();
    chrome.search = form.q.clone();
    page(&SearchPage {
        chrome,
        previous_href: (page_number > 1).then(|| page_href(page_number - 1)),
        next_href: (page_number * PAGE_SIZE < total).then(|| page_href(page_number + 1)),
        page_number,
        form,
        projects,
        results,
        badges: Badges::of(&workflow),
        problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_filters_become_query_terms() {
        let form = SearchForm { q: " disk full ".into(), project: "OPS".into(), state: "open".into(), page: "".into() };
        assert_eq!(full_query(&form), "disk full project:OPS status:open");
        let bare = SearchForm { state: "all".into(), ..SearchForm::default() };
        assert_eq!(full_query(&bare), "");
    }
}
