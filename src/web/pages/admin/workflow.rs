//! The workflow vocabulary, for administrators: item types, statuses (which are closed),
//! priorities and the allowed status moves. It is seeded by the migrations; there is no
//! editing in the model yet, so the page only shows it.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::model::workflow::Workflow;
use crate::web::AppState;
use crate::web::pages::{Chrome, PageError, Viewer, page};

#[derive(Template)]
#[template(path = "admin/workflow.html")]
struct WorkflowPage {
    chrome: Chrome,
    workflow: Workflow,
}

impl WorkflowPage {
    fn allows(&self, from: &crate::model::ids::StatusId, to: &crate::model::ids::StatusId) -> bool {
        self.workflow.transitions.iter().any(|move_| move_.from_status_id == *from && move_.to_status_id == *to)
    }
}

pub async fn show_workflow(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    viewer.require_admin()?;
    let workflow = state.database.run(Workflow::load).await?;
    page(&WorkflowPage { chrome: viewer.chrome(), workflow })
}
