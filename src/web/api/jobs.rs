//! Scheduled jobs, for administrators: each job's schedule, last and next run; a run now.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::jobs::{self, Job};
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::ApiError;

/// How many runs of a job the list shows.
const LISTED: i64 = 50;

pub async fn list_jobs(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let settings = state.settings.jobs.clone();
    let listed = state.database.run(move |connection| jobs::list(connection, &settings)).await?;
    Ok(HttpResponse::Ok().json(json!({"jobs": listed})))
}

pub async fn list_runs(
    state: web::Data<AppState>,
    _admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = Job::from_name(&path.into_inner())?;
    let runs = state.database.run(move |connection| jobs::recent_runs(connection, job, LISTED)).await?;
    Ok(HttpResponse::Ok().json(json!({"runs": runs})))
}

/// Asks the master to run the job now (202); a run already waiting is returned instead.
pub async fn request_run(
    state: web::Data<AppState>,
    _admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = Job::from_name(&path.into_inner())?;
    let run = state.database.write(move |connection| jobs::request_run(connection, job)).await?;
    let state_name = run.state();
    Ok(HttpResponse::Accepted().json(json!({"run": run, "state": state_name})))
}

pub async fn get_run(
    state: web::Data<AppState>,
    _admin: Admin,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (name, id) = path.into_inner();
    let job = Job::from_name(&name)?;
    let run = state.database.run(move |connection| jobs::get_run(connection, id)).await?;
    if run.job != job.name() {
        return Err(crate::error::Error::NotFound(format!("job run {id} of {name}")).into());
    }
    let state_name = run.state();
    Ok(HttpResponse::Ok().json(json!({"run": run, "state": state_name})))
}
