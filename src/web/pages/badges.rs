//! How statuses and priorities look: a status belongs to one of four categories (open, in
//! progress, done, rejected), each with its colour and shape wherever a status is shown; a
//! priority gets a marker by its place relative to the default priority.
//!
//! The workflow has no category field (yet), so the category is derived from what it knows:
//! a closed status is "rejected" when its name says so (Rejected, Won't fix, Duplicate, …) and
//! "done" otherwise; an open status is "open" when it is the first status (where new items
//! start) or its name says so (Open, To do, Backlog, Reopened), "done" when its name says the
//! work is finished but not yet closed (Resolved, Fixed, Verified), and "in progress" otherwise.

use crate::model::ids::{PriorityId, StatusId};
use crate::model::workflow::{Status, Workflow};

/// Words (whole, lower case, apostrophes dropped) that put a status in a category.
const REJECTED_WORDS: &[&str] =
    &["rejected", "reject", "wontfix", "wont", "invalid", "duplicate", "cancelled", "canceled", "declined", "obsolete"];
const DONE_WORDS: &[&str] = &["resolved", "done", "fixed", "verified", "completed", "finished"];
const OPEN_WORDS: &[&str] = &["new", "open", "todo", "backlog", "reopened", "triage"];

/// The category's name doubles as the CSS class (`status-open`, …).
pub fn status_category(status: &Status, is_first: bool) -> &'static str {
    let name = status.name.to_lowercase().replace(['\'', '’'], "");
    let words: Vec<&str> = name.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).collect();
    let says = |list: &[&str]| words.iter().any(|word| list.contains(word)) || list.contains(&words.concat().as_str());
    match (status.is_closed, is_first) {
        (true, _) if says(REJECTED_WORDS) => "rejected",
        (true, _) => "done",
        (false, true) => "open",
        (false, false) if says(OPEN_WORDS) => "open",
        (false, false) if says(DONE_WORDS) => "done",
        (false, false) => "progress",
    }
}

/// The categories and markers of one workflow, for a page to look up by id.
pub struct Badges {
    statuses: Vec<(StatusId, &'static str)>,
    priorities: Vec<(PriorityId, &'static str)>,
}

impl Badges {
    pub fn of(workflow: &Workflow) -> Badges {
        let statuses = workflow
            .statuses
            .iter()
            .enumerate()
            .map(|(index, status)| (status.id, status_category(status, index == 0)))
            .collect();
        let default_position = workflow.default_priority().map(|priority| priority.position).unwrap_or(i32::MIN);
        let highest = workflow.priorities.iter().map(|priority| priority.position).max().unwrap_or(i32::MIN);
        let priorities = workflow
            .priorities
            .iter()
            .map(|priority| {
                let marker = match priority.position {
                    position if position == default_position => "normal",
                    position if position < default_position => "low",
                    position if position == highest => "top",
                    _ => "high",
                };
                (priority.id, marker)
            })
            .collect();
        Badges { statuses, priorities }
    }

    /// `open`, `progress`, `done` or `rejected`.
    pub fn status(&self, id: &StatusId) -> &'static str {
        self.statuses.iter().find(|(status, _)| status == id).map_or("progress", |(_, category)| category)
    }

    /// `top`, `high`, `normal` or `low`.
    pub fn priority(&self, id: &PriorityId) -> &'static str {
        self.priorities.iter().find(|(priority, _)| priority == id).map_or("normal", |(_, marker)| marker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::workflow::Priority;

    fn status(name: &str, is_closed: bool) -> Status {
        Status { id: StatusId(1), name: name.into(), is_closed, position: 1 }
    }

    #[test]
    fn statuses_fall_into_categories_by_state_place_and_name() {
        for (name, is_closed, is_first, expected) in [
            ("New", false, true, "open"),
            ("Waiting", false, true, "open"),
            ("In progress", false, false, "progress"),
            ("Review", false, false, "progress"),
            ("Reopened", false, false, "open"),
            ("To do", false, false, "open"),
            ("Resolved", false, false, "done"),
            ("Closed", true, false, "done"),
            ("Shipped", true, false, "done"),
            ("Rejected", true, false, "rejected"),
            ("Won't fix", true, false, "rejected"),
            ("Duplicate", true, false, "rejected"),
            ("Rejected", false, false, "progress"),
        ] {
            assert_eq!(status_category(&status(name, is_closed), is_first), expected, "{name}");
        }
    }

    #[test]
    fn priorities_are_marked_relative_to_the_default() {
        let priorities = ["Low", "Normal", "High", "Urgent"]
            .iter()
            .enumerate()
            .map(|(index, name)| Priority {
                id: PriorityId(index as i64 + 1),
                name: name.to_string(),
                position: index as i32 + 1,
            })
            .collect();
        let workflow = Workflow {
            types: Vec::new(),
            statuses: Vec::new(),
            priorities,
            transitions: Vec::new(),
            type_transitions: Vec::new(),
        };
        let badges = Badges::of(&workflow);
        let markers: Vec<&str> = (1..=4).map(|id| badges.priority(&PriorityId(id))).collect();
        assert_eq!(markers, ["low", "normal", "high", "top"]);
    }
}
