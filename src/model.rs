//! Users, projects, memberships, items and everything attached to them: the structs,
//! the queries and the rules (validation, workflow, permissions). Knows nothing of HTTP:
//! every function takes a connection and returns `crate::error::Result`.

pub mod attachment;
pub mod auth;
pub mod comment;
pub mod component;
pub mod definitions;
pub mod field;
pub mod history;
pub mod html;
pub mod ids;
pub mod item;
pub mod label;
pub mod link;
pub mod membership;
pub mod notification;
pub mod permission;
pub mod project;
pub mod reference;
pub mod text;
pub mod user;
pub mod version;
pub mod watcher;
pub mod workflow;
