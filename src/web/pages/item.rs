//! One item's page and its forms: edit (with the version read, so a stale edit is a
//! conflict, not a lost update), ticking a task box of the description, comments,
//! attachments, labels, links, watching; fields changed in place are `in_place`'s. Every form
//! posts back here and redirects to the page on success; invalid input re-renders the page
//! with the message next to the field.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use futures_util::TryStreamExt;
use serde::Deserialize;

use crate::db::{self, DbConnection};
use crate::error::Error;
use crate::model::attachment::{self, Attachment, NewAttachment, normalise_content_type};
use crate::model::comment::{self, Comment};
use crate::model::field::Catalog;
use crate::model::field::value::{Shown, ShownField};
use crate::model::history::{self, HistoryEntry};
use crate::model::ids::{CommentId, ComponentId, ItemId, LabelId, LinkId, ProjectId, TypeId, UserId, VersionId};
use crate::model::item::key::ItemReference;
use crate::model::item::tree::{self, TreeEntry};
use crate::model::item::{self, Guard, ItemPermissions, ItemUpdate, ItemView, NamedRef, StatusRef};
use crate::model::label::LabelRef;
use crate::model::link::{self, Link};
use crate::model::membership::Member;
use crate::model::permission::Permission;
use crate::model::project::setup::{ProjectSetup, Setups};
use crate::model::project::{self, Project, ProjectKeyOrId};
use crate::model::reference::{Targets, UnknownLogins};
use crate::model::user::{self, User};
use crate::model::version::VersionTarget;
use crate::model::watcher;
use crate::model::workflow::{ItemType, Workflow};
use crate::web::AppState;
use crate::web::input::form_pairs;
use crate::web::pages::badges::Badges;
use crate::web::pages::comments;
use crate::web::pages::confirm::Confirmation;
use crate::web::pages::error::PageError;
use crate::web::pages::field_inputs::{self, FieldInput, FieldTexts};
use crate::web::pages::in_place::{self, Collision};
use crate::web::pages::markdown::{self, Place, TaskBoxes};
use crate::web::pages::viewer::{CSRF_FIELD, Viewer, Visit, check_csrf, read_form};
use crate::web::pages::{Chrome, FieldErrors, Notice, human_size, render, see_other, url_with_query};

/// The edit form's values: what the item holds, or what the user sent when it must be shown
/// again (invalid input, conflict).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EditForm {
    pub version: String,
    pub title: String,
    pub description: String,
    pub type_id: String,
    /// The project's key; sent only by users who may move the item.
    pub project: Option<String>,
    /// Sent by the Preview button: show the description rendered instead of saving.
    pub preview: Option<String>,
    /// The parent item's number; empty for none.
    pub parent: String,
    /// The custom fields' inputs (`field.<key>`), read from the form's pairs.
    #[serde(skip)]
    pub fields: FieldTexts,
}

impl EditForm {
    fn from_item(item: &ItemView) -> EditForm {
        EditForm {
            version: item.version.to_string(),
            title: item.title.clone(),
            description: item.description.clone(),
            type_id: item.item_type.id.to_string(),
            project: Some(item.project.key.clone()),
            parent: item.parent.as_ref().map(|parent| parent.id.to_string()).unwrap_or_default(),
            fields: FieldTexts::of_item(&item.fields),
            preview: None,
        }
    }
}

pub struct CommentView {
    pub comment: Comment,
    pub body_html: String,
    /// The viewer may edit and delete it (`comment::edit`).
    pub may_change: bool,
}

impl CommentView {
    /// What the delete button asks first.
    pub fn deletion(&self) -> Confirmation {
        comments::deletion(&self.comment)
    }
}

/// A custom field's value as the page shows it: text, Markdown (long text, with the references
/// its viewer may follow as links) or a link (URL).
pub struct CustomFieldView {
    pub key: String,
    pub name: String,
    pub text: String,
    pub html: Option<String>,
    pub link: Option<String>,
}

impl CustomFieldView {
    fn of(field: &ShownField, references: &Targets) -> CustomFieldView {
        let text = field.value.as_ref().map(Shown::text).unwrap_or_default();
        CustomFieldView {
            key: field.key.clone(),
            name: field.name.clone(),
            html: match &field.value {
                Some(Shown::LongText(markdown)) => Some(markdown::render(markdown, TaskBoxes::Disabled, references)),
                _ => None,
            },
            link: match &field.value {
                Some(Shown::Url(url)) => Some(url.clone()),
                _ => None,
            },
            text,
        }
    }
}

pub struct AttachmentView {
    pub attachment: Attachment,
    pub size: String,
}

#[derive(Template)]
#[template(path = "item.html")]
struct ItemPage {
    chrome: Chrome,
    item: ItemView,
    description_html: String,
    custom_fields: Vec<CustomFieldView>,
    field_inputs: Vec<FieldInput>,
    /// Custom field keys and names, for the history.
    field_names: Vec<(String, String)>,
    permissions: ItemPermissions,
    comments: Vec<CommentView>,
    attachments: Vec<AttachmentView>,
    links: Vec<Link>,
    /// The items below this one, depth first, and how many of them are closed.
    sub_items: Vec<TreeEntry>,
    sub_items_closed: usize,
    /// The add-a-link form's values (kind, target), kept when it is refused.
    link_draft: (String, String),
    history: Vec<HistoryEntry>,
    watching: bool,
    next_statuses: Vec<StatusRef>,
    workflow: Workflow,
    /// The types the edit form offers: the project's, and the item's own.
    types: Vec<ItemType>,
    badges: Badges,
    members: Vec<Member>,
    /// The projects the item may move to (the viewer works there), its own included.
    move_targets: Vec<Project>,
    plan: PlanOptions,
    edit: EditForm,
    /// Open the edit section (after an invalid or conflicting edit).
    editing: bool,
    comment_draft: String,
    comment_preview: Option<String>,
    comment_private: bool,
    description_preview: Option<String>,
    errors: FieldErrors,
    notice: Option<Notice>,
    /// The custom fields that change in place: the item's own, with its values.
    in_place: Vec<FieldInput>,
    in_place_texts: FieldTexts,
    /// Someone changed a field the viewer just set (in place).
    collision: Option<Collision>,
    /// What the viewer's last action did, perhaps with a way back.
    done: Option<Done>,
}

impl ItemPage {
    /// The in-place input of a custom field, for those who may edit the item.
    fn in_place_input(&self, key: &str) -> Option<&FieldInput> {
        self.in_place.iter().find(|input| input.key == key)
    }

    fn targets(&self, version: &VersionId) -> bool {
        self.item.target_version.as_ref().is_some_and(|targeted| targeted.id == *version)
    }

    fn in_component(&self, component: &ComponentId) -> bool {
        self.item.component.as_ref().is_some_and(|part| part.id == *component)
    }

    fn assigned_to(&self, user: &UserId) -> bool {
        self.item.assignee.as_ref().is_some_and(|assignee| assignee.id == *user)
    }

    fn in_place_holds(&self, key: &str, text: &str) -> bool {
        self.in_place_texts.holds(key, text)
    }

    fn in_place_text(&self, key: &str) -> &str {
        self.in_place_texts.text(key)
    }

    /// The latest change of a field, for the collision's story.
    fn last_change(&self, field: &str) -> Option<&HistoryEntry> {
        self.history.iter().rev().find(|entry| entry.field == field)
    }

    /// How the history names a field: a custom field by its name, a built-in one as stored.
    fn field_label<'a>(&'a self, field: &'a str) -> &'a str {
        self.field_names.iter().find(|(key, _)| key == field).map_or(field, |(_, name)| name.as_str())
    }

    /// The kinds the add-a-link form offers, as (value, words): each kind from both sides.
    fn link_kinds(&self) -> Vec<(&'static str, &'static str)> {
        let mut kinds: Vec<(&'static str, &'static str)> = link::Kind::ALL
            .iter()
            .flat_map(|kind| [kind.as_str(), kind.reverse()])
            .map(|side| (side, link::wording(side)))
            .collect();
        // `relates` reads the same from both sides.
        kinds.dedup();
        kinds.push((CLOSE_AS_DUPLICATE, "duplicates, and close this item"));
        kinds
    }
}

/// The versions, labels and components the page's forms offer (for those who may edit).
#[derive(Default)]
struct PlanOptions {
    /// Open versions the item may target, and the one it targets.
    versions: Vec<VersionTarget>,
    labels: Vec<LabelRef>,
    components: Vec<NamedRef<ComponentId>>,
}

impl PlanOptions {
    fn of(setup: &ProjectSetup, item: &ItemView) -> PlanOptions {
        let targeted = item.target_version.as_ref().map(|version| version.id);
        PlanOptions {
            versions: setup.version_targets(targeted),
            labels: setup.labels.clone(),
            components: setup.components.clone(),
        }
    }
}

impl ItemPage {
    /// The project's labels the item does not carry, for the add-a-label form.
    fn labels_to_add(&self) -> Vec<&LabelRef> {
        self.plan.labels.iter().filter(|label| !self.item.labels.iter().any(|held| held.id == label.id)).collect()
    }
}

/// What the page shows besides the forms' state.
struct Loaded {
    item: ItemView,
    permissions: ItemPermissions,
    comments: Vec<Comment>,
    attachments: Vec<Attachment>,
    links: Vec<Link>,
    sub_items: (Vec<TreeEntry>, usize),
    history: Vec<HistoryEntry>,
    watching: bool,
    next_statuses: Vec<StatusRef>,
    workflow: Workflow,
    types: Vec<ItemType>,
    members: Vec<Member>,
    move_targets: Vec<Project>,
    plan: PlanOptions,
    /// The project whose types, members and fields the edit form offers: the item's, or
    /// the one a refused move named, so that the user can mend the move and save again.
    form_project: ProjectId,
    catalog: std::sync::Arc<Catalog>,
    /// What the references in the description and comments name, as the viewer may see it.
    references: Targets,
}

impl Loaded {
    /// What the page shows of item `id` to `user`, in one read.
    fn read(connection: &mut DbConnection, user: &User, id: ItemId, moving_to: Option<&str>) -> Result<Loaded, Error> {
        db::read_together(connection, |connection| {
            let item::PageItem {
                view: item,
                permissions,
                readable,
                version,
                watching,
                linked,
                attached,
                commented,
                changed,
            } = item::get_for_page(connection, user, id)?;
            let workflow = Workflow::clone(&*Workflow::at(connection, &version)?);
            let catalog = Catalog::at(connection, &version)?;
            let setups = Setups::at(connection, &version)?;
            let move_targets = if permissions.work {
                project::allowed_among(connection, user, setups.projects(), Permission::Work)?
            } else {
                Vec::new()
            };
            let form_project = moving_to
                .and_then(|key| move_targets.iter().find(|target| target.key == key.trim()).map(|target| target.id))
                .unwrap_or(item.project.id);
            let moving = form_project != item.project.id;
            // For the assignee (work) and for user fields (edit); the viewer works in a target.
            // The form's project is the item's (readable) or one the viewer works in.
            let setup = setups.of(connection, form_project)?;
            let (members, plan) = if permissions.edit {
                (setup.members.clone(), PlanOptions::of(&setup, &item))
            } else {
                Default::default()
            };
            let used = setup.types(&workflow);
            let types = workflow
                .types
                .iter()
                .filter(|item_type| (!moving && item_type.id == item.item_type.id) || used.uses(item_type.id))
                .cloned()
                .collect();
            let comments =
                if commented { comment::of_item(connection, readable, permissions.work)? } else { Vec::new() };
            let long_texts = item.fields.0.iter().filter_map(|field| match &field.value {
                Some(Shown::LongText(markdown)) => Some(markdown.as_str()),
                _ => None,
            });
            let texts = std::iter::once(item.description.as_str())
                .chain(long_texts)
                .chain(comments.iter().map(|comment| comment.body.as_str()));
            let attachments =
                if attached { attachment::of_item(connection, readable, permissions.work)? } else { Vec::new() };
            let references =
                markdown::targets(connection, user, Some(item.project.id), texts)?.with_attachments(&attachments);
            Ok(Loaded {
                permissions,
                comments,
                references,
                attachments,
                links: if linked { link::of_item(connection, user, readable)? } else { Vec::new() },
                // Most items have none: their count is on the item, kept by triggers.
                sub_items: if item.children_count > 0 {
                    tree::descendants(connection, readable)?
                } else {
                    Default::default()
                },
                history: if changed { history::of_item(connection, user, readable)? } else { Vec::new() },
                watching,
                next_statuses: item::moves_from(&workflow, permissions, item.item_type.id, item.status.id),
                workflow,
                types,
                members,
                move_targets,
                plan,
                form_project,
                catalog,
                item,
            })
        })
    }
}

/// What an action on the page did, said after its redirect (`?done=…`, `?changed=…`).
pub(crate) struct Done {
    pub text: String,
    pub undo: Option<UndoForm>,
}

/// A form that undoes an action: posted to `action` with these inputs (and the CSRF token).
pub(crate) struct UndoForm {
    pub action: String,
    pub inputs: Vec<(String, String)>,
}

/// The page after an action elsewhere on it: `?done=<what>` (with the label or link it
/// concerned), for what has no field of its own to tell of.
fn done(pairs: &[(String, String)], item: &ItemView, labels: &[LabelRef]) -> Option<Done> {
    let given = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let id = item.id;
    let undo = |action: String, inputs: Vec<(&str, String)>| {
        Some(UndoForm { action, inputs: inputs.into_iter().map(|(name, value)| (name.to_string(), value)).collect() })
    };
    let label = given("label").and_then(|label| label.parse().ok()).map(LabelId);
    let label_name = || {
        label
            .and_then(|label| labels.iter().chain(&item.labels).find(|known| known.id == label))
            .map(|known| known.name.clone())
    };
    Some(match given("done")? {
        "saved" => Done { text: "Your changes were saved.".into(), undo: None },
        "created" => Done { text: format!("{} created.", item.key), undo: None },
        "copied" => Done { text: format!("This is the copy, {}: change what differs.", item.key), undo: None },
        "commented" => Done { text: "Comment added.".into(), undo: None },
        "comment-saved" => Done { text: "Comment saved.".into(), undo: None },
        "comment-deleted" => Done { text: "Comment deleted.".into(), undo: None },
        "watching" => Done {
            text: "You watch this item now: you will be told of its changes.".into(),
            undo: undo(format!("/items/{id}/unwatch"), vec![]),
        },
        "unwatched" => {
            Done { text: "You no longer watch this item.".into(), undo: undo(format!("/items/{id}/watch"), vec![]) }
        }
        "label-added" => Done {
            text: format!("Label {} added.", label_name()?),
            undo: undo(format!("/items/{id}/labels/{}/remove", label?), vec![]),
        },
        "label-removed" => Done {
            text: format!("Label {} taken off.", label_name()?),
            undo: undo(format!("/items/{id}/labels"), vec![("label", label?.to_string())]),
        },
        "linked" => Done {
            text: "Link added.".into(),
            undo: given("link")
                .map(|link| format!("/items/{id}/links/{link}/remove"))
                .and_then(|action| undo(action, vec![])),
        },
        "unlinked" => Done { text: "Link removed.".into(), undo: None },
        "uploaded" => Done { text: "Attachment added.".into(), undo: None },
        _ => return None,
    })
}

/// The page's form state; the defaults show the item as stored.
#[derive(Default)]
pub(crate) struct FormState {
    edit: Option<EditForm>,
    comment_draft: String,
    /// The draft rendered, after Preview.
    comment_preview: Option<String>,
    /// The draft is a private note.
    comment_private: bool,
    /// The edit form's description rendered, after its Preview.
    description_preview: Option<String>,
    link_draft: (String, String),
    errors: FieldErrors,
    notice: Option<Notice>,
    collision: Option<Collision>,
    /// What the viewer sent for a field refused in place, shown again in its form.
    refused_texts: FieldTexts,
    /// The query of the page after an action (`?changed=…` of `in_place::changed`, `?done=…`).
    after_action: Vec<(String, String)>,
}

impl FormState {
    /// The item as stored, with a notice.
    pub fn told(notice: Notice) -> FormState {
        FormState { notice: Some(notice), ..FormState::default() }
    }

    /// The item as stored, with a notice and the message of the field that was refused; its
    /// form shows what the viewer sent (`sent`: its `field.<key>` pairs, for a custom field).
    pub fn refused(notice: Notice, errors: FieldErrors, sent: &[(String, String)]) -> FormState {
        FormState { notice: Some(notice), errors, refused_texts: FieldTexts::from_pairs(sent), ..FormState::default() }
    }

    /// The item as stored, with the story of a field someone else changed meanwhile.
    pub fn collided(collision: Collision) -> FormState {
        FormState { collision: Some(collision), ..FormState::default() }
    }
}

pub(crate) async fn item_page(
    state: &AppState,
    viewer: &Viewer,
    id: ItemId,
    status: StatusCode,
    forms: FormState,
) -> Result<HttpResponse, PageError> {
    let moving_to = forms.edit.as_ref().and_then(|edit| edit.project.clone());
    let user = viewer.user.clone();
    let loaded =
        state.database.run(move |connection| Loaded::read(connection, &user, id, moving_to.as_deref())).await?;
    render_item(viewer, loaded, status, forms)
}

/// The page of a loaded item, with the forms' state.
fn render_item(
    viewer: &Viewer,
    loaded: Loaded,
    status: StatusCode,
    forms: FormState,
) -> Result<HttpResponse, PageError> {
    let editing = forms.edit.is_some();
    let mut edit = forms.edit.unwrap_or_else(|| EditForm::from_item(&loaded.item));
    // Saving again applies to what is stored now.
    edit.version = loaded.item.version.to_string();
    // The fields of the type the form's choice shows: the one sent, if offered, else the
    // first offered (a refused move's type may not be).
    let form_type = edit
        .type_id
        .trim()
        .parse()
        .ok()
        .map(TypeId)
        .filter(|chosen| loaded.types.iter().any(|offered| offered.id == *chosen))
        .or(loaded.types.first().map(|offered| offered.id))
        .unwrap_or(loaded.item.item_type.id);
    let done =
        in_place::changed(&forms.after_action, &loaded.item, viewer.user.id, &loaded.history, &loaded.next_statuses)
            .or_else(|| done(&forms.after_action, &loaded.item, &loaded.plan.labels));
    let in_place_texts = forms.refused_texts.or(FieldTexts::of_item(&loaded.item.fields));
    render(
        status,
        &ItemPage {
            chrome: viewer.chrome(),
            // Those who may edit the description tick its task boxes from the page.
            description_html: markdown::render(
                &loaded.item.description,
                if loaded.permissions.edit { TaskBoxes::Buttons } else { TaskBoxes::Disabled },
                &loaded.references,
            ),
            custom_fields: loaded
                .item
                .fields
                .0
                .iter()
                .map(|field| CustomFieldView::of(field, &loaded.references))
                .collect(),
            field_names: loaded.catalog.fields.iter().map(|field| (field.key.clone(), field.name.clone())).collect(),
            field_inputs: field_inputs::inputs(
                &loaded.catalog,
                loaded.form_project,
                form_type,
                &edit.fields,
                &loaded.members,
            ),
            in_place: if loaded.permissions.edit {
                field_inputs::inputs(
                    &loaded.catalog,
                    loaded.item.project.id,
                    loaded.item.item_type.id,
                    &in_place_texts,
                    &loaded.members,
                )
            } else {
                Vec::new()
            },
            in_place_texts,
            comments: loaded
                .comments
                .into_iter()
                .map(|comment| CommentView {
                    body_html: markdown::render(&comment.body, TaskBoxes::Disabled, &loaded.references),
                    may_change: !comment.deleted
                        && (loaded.permissions.manage
                            || (loaded.permissions.contribute && comment.author.id == viewer.user.id)),
                    comment,
                })
                .collect(),
            attachments: loaded
                .attachments
                .into_iter()
                .map(|attachment| AttachmentView { size: human_size(attachment.size_bytes), attachment })
                .collect(),
            item: loaded.item,
            permissions: loaded.permissions,
            history: loaded.history,
            watching: loaded.watching,
            next_statuses: loaded.next_statuses,
            badges: Badges::of(&loaded.workflow),
            workflow: loaded.workflow,
            types: loaded.types,
            members: loaded.members,
            move_targets: loaded.move_targets,
            plan: loaded.plan,
            edit,
            editing,
            comment_draft: forms.comment_draft,
            comment_preview: forms.comment_preview,
            comment_private: forms.comment_private,
            description_preview: forms.description_preview,
            link_draft: forms.link_draft,
            links: loaded.links,
            sub_items: loaded.sub_items.0,
            sub_items_closed: loaded.sub_items.1,
            errors: forms.errors,
            notice: forms.notice,
            collision: forms.collision,
            done,
        },
    )
}

pub async fn show_item(
    state: web::Data<AppState>,
    visit: Visit,
    path: web::Path<ItemReference>,
    request: actix_web::HttpRequest,
) -> Result<HttpResponse, PageError> {
    let reference = path.into_inner();
    // Who looks, which item, and what the page shows: one database task.
    let lookup = visit.clone();
    let (viewer, opened) = state
        .database
        .run(move |connection| {
            let viewer = lookup.viewer(connection)?;
            let (id, current) = reference.resolve_with_key(connection, &viewer.user)?;
            // A key the item had before it moved leads to the one it has now.
            if let Some(current) = current
                && current != reference.to_string()
            {
                return Ok((viewer, Opened::Moved(current)));
            }
            let loaded = Loaded::read(connection, &viewer.user, id, None)?;
            Ok((viewer, Opened::Item(Box::new(loaded))))
        })
        .await
        .map_err(|error| visit.page_error(error))?;
    let loaded = match opened {
        Opened::Moved(current) => {
            return Ok(HttpResponse::PermanentRedirect()
                .insert_header((actix_web::http::header::LOCATION, format!("/items/{current}")))
                .finish());
        }
        Opened::Item(loaded) => *loaded,
    };
    // What the page is told after a change: `not_told` after a comment, `changed` (and `undo`)
    // after an in-place change.
    let query = form_pairs(request.query_string().as_bytes())?;
    let not_told = query.iter().find(|(name, _)| name == "not_told").map_or("", |(_, logins)| logins.as_str());
    let notice = not_told_notice(not_told);
    let forms = FormState { notice, after_action: query, ..FormState::default() };
    render_item(&viewer, loaded, StatusCode::OK, forms)
}

/// What the address of an item page leads to.
enum Opened {
    /// The item's key now, when the address used one it had before it moved.
    Moved(String),
    Item(Box<Loaded>),
}

/// Where a saved comment is shown: the item at the comment, saying `done` — or, when some
/// mentioned people could not read the item, naming them instead (`not_told`).
pub(crate) fn after_comment(item: ItemId, comment: CommentId, not_told: &[String], done: &str) -> String {
    let told = if not_told.is_empty() { ("done", done.to_string()) } else { ("not_told", not_told.join(" ")) };
    format!("{}#comment-{comment}", url_with_query(&format!("/items/{item}"), &[told]))
}

/// The notice naming the people a comment mentioned but did not tell (logins, space-separated);
/// only well-formed logins are named.
fn not_told_notice(logins: &str) -> Option<Notice> {
    let logins: Vec<String> = logins
        .split_whitespace()
        .take(10)
        .filter_map(|login| user::parse_login(login).ok())
        .map(|login| format!("@{login}"))
        .collect();
    let (who, were) = match logins.as_slice() {
        [] => return None,
        [one] => (one.clone(), "was"),
        many => (many.join(", "), "were"),
    };
    Some(Notice {
        kind: "warn",
        text: format!("Your comment was saved. {who} cannot read this item and {were} not told."),
    })
}

fn conflict_notice(message: String) -> Notice {
    Notice {
        kind: "warn",
        text: format!(
            "{message}. Your changes were not saved. The page now shows the current item; your edits are kept in \
             the form below, so you can check them against it and save again."
        ),
    }
}

fn parse_version(text: &str) -> Result<i32, Error> {
    text.trim().parse().map_err(|_| Error::invalid("version", "the form is missing the item version; reload the page"))
}

pub(crate) fn parse_number(field: &str, text: &str) -> Result<Option<i64>, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| Error::invalid(field, format!("{text:?} is not a number")))
}

/// The changes the edit form asks for. Custom fields that do not apply to the project and
/// type chosen are left out: the model removes their values with the move or type change.
fn edit_changes(
    form: &EditForm,
    catalog: &Catalog,
    now: &ItemView,
    moved_to: Option<ProjectId>,
) -> Result<ItemUpdate, Error> {
    let item_type = parse_number("type_id", &form.type_id)?.map_or(now.item_type.id, TypeId);
    let applying = field_inputs::inputs(catalog, moved_to.unwrap_or(now.project.id), item_type, &form.fields, &[]);
    let fields = form.fields.clone().keep_applying(&applying).to_values(catalog)?;
    Ok(ItemUpdate {
        guard: Guard::Version(parse_version(&form.version)?),
        project: form
            .project
            .as_deref()
            .map(str::trim)
            .filter(|key| !key.is_empty() && *key != now.project.key)
            .map(ProjectKeyOrId::parse),
        title: Some(form.title.clone()),
        description: Some(form.description.clone()),
        type_id: parse_number("type_id", &form.type_id)?.map(TypeId),
        // Status, priority, assignee, due date, target version and component change in place
        // (`in_place`); a move keeps the version where the new project may use it and drops
        // the component.
        status_id: None,
        priority_id: None,
        assignee_id: None,
        due_date: None,
        target_version: None,
        component: None,
        // Only a changed parent is sent: an unchanged one is left to the model, which drops it
        // when the item moves to another project.
        parent: Some(parse_number("parent", form.parent.trim().trim_start_matches('#'))?.map(ItemId))
            .filter(|parent| *parent != now.parent.as_ref().map(|parent| parent.id)),
        fields,
        labels: None,
    })
}

/// Saves parsed changes (a parse error is answered like a refused save) and shows the outcome:
/// the page on success (`then` is the rest of its URL: what was done, where to look), the
/// form again on invalid input, the current item with a conflict message when someone else
/// saved first.
async fn save_changes(
    state: &AppState,
    viewer: &Viewer,
    id: ItemId,
    changes: Result<ItemUpdate, Error>,
    form: Option<EditForm>,
    then: &str,
) -> Result<HttpResponse, PageError> {
    let user = viewer.user.clone();
    let outcome = match changes {
        Ok(changes) => state.database.write(move |connection| item::update(connection, &user, id, changes)).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/items/{id}{then}"))),
        Err(Error::Conflict(message)) => {
            let forms = FormState { edit: form, notice: Some(conflict_notice(message)), ..FormState::default() };
            item_page(state, viewer, id, StatusCode::CONFLICT, forms).await
        }
        Err(Error::Invalid(field_error)) => {
            let notice = Notice { kind: "error", text: format!("Not saved: {}", field_error.message) };
            let forms = FormState {
                edit: form,
                errors: FieldErrors::one(&field_error.field, field_error.message),
                notice: Some(notice),
                ..FormState::default()
            };
            item_page(state, viewer, id, StatusCode::UNPROCESSABLE_ENTITY, forms).await
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn edit_item(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<ItemId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let mut form: EditForm = read_form(&viewer, &body)?;
    form.fields = FieldTexts::from_pairs(&form_pairs(&body)?);
    let user = viewer.user.clone();
    if form.preview.is_some() {
        let text = form.description.clone();
        let html =
            state.database.run(move |connection| markdown::preview(connection, &user, Place::Item(id), &text)).await?;
        let forms = FormState { edit: Some(form), description_preview: Some(html), ..FormState::default() };
        return item_page(&state, &viewer, id, StatusCode::OK, forms).await;
    }
    let key = form.project.clone();
    let (catalog, item, moved_to) = state
        .database
        .run(move |connection| {
            let item = item::get(connection, &user, id)?;
            // Where the fields of the target project apply; the model checks the move itself.
            let moved_to = match key.as_deref().map(str::trim).filter(|key| !key.is_empty()) {
                Some(key) => project::find(connection, &ProjectKeyOrId::parse(key)).ok().map(|target| target.id),
                None => None,
            };
            Ok((Catalog::load(connection)?, item, moved_to))
        })
        .await?;
    let changes = edit_changes(&form, &catalog, &item, moved_to);
    save_changes(&state, &viewer, id, changes, Some(form), "?done=saved").await
}

/// A task box's button sends `tick` or `untick` with the box's number, and the version the
/// page showed.
#[derive(Deserialize)]
pub struct TaskForm {
    #[serde(default)]
    version: String,
    tick: Option<String>,
    untick: Option<String>,
}

fn parse_task(form: &TaskForm) -> Result<(usize, bool), Error> {
    let (number, done) = match (&form.tick, &form.untick) {
        (Some(number), None) => (number, true),
        (None, Some(number)) => (number, false),
        _ => return Err(Error::invalid("tick", "send the number of one task box, to tick or to untick")),
    };
    let index =
        number.trim().parse().map_err(|_| Error::invalid("tick", format!("{number:?} is not a task box number")))?;
    Ok((index, done))
}

/// Ticks or unticks a box of the description's task list: an ordinary edit of the
/// description (history, notification, search, version check), made from the description
/// as the page showed it — the version makes the save fail if it changed since.
pub async fn tick_task(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<ItemId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let form: TaskForm = read_form(&viewer, &body)?;
    let user = viewer.user.clone();
    let current = state.database.run(move |connection| item::get(connection, &user, id)).await?;
    let task = parse_task(&form);
    let anchor = task.as_ref().map(|(index, _)| format!("#task-{index}")).unwrap_or_default();
    let changes = parse_version(&form.version).and_then(|version| {
        let (index, done) = task?;
        let description = markdown::set_task(&current.description, index, done).ok_or_else(|| {
            Error::invalid("tick", format!("the description has no task box {}; reload the page", index + 1))
        })?;
        Ok(ItemUpdate { guard: Guard::Version(version), description: Some(description), ..ItemUpdate::default() })
    });
    save_changes(&state, &viewer, id, changes, None, &anchor).await
}

#[derive(Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    body: String,
    /// Sent by the Preview button: show the draft rendered instead of adding it.
    preview: Option<String>,
    /// The private-note box, ticked.
    private: Option<String>,
}

pub async fn add_comment(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<ItemId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let form: CommentForm = read_form(&viewer, &body)?;
    let user = viewer.user.clone();
    let text = form.body.clone();
    if form.preview.is_some() {
        let html =
            state.database.run(move |connection| markdown::preview(connection, &user, Place::Item(id), &text)).await?;
        let forms = FormState {
            comment_draft: form.body,
            comment_private: form.private.is_some(),
            comment_preview: Some(html),
            ..FormState::default()
        };
        return item_page(&state, &viewer, id, StatusCode::OK, forms).await;
    }
    let private = form.private.is_some();
    match state
        .database
        .write(move |connection| comment::create(connection, &user, id, &text, private, UnknownLogins::Refuse))
        .await
    {
        Ok(posted) => Ok(see_other(&after_comment(id, posted.comment.id, &posted.not_told, "commented"))),
        Err(Error::Invalid(field_error)) => {
            let forms = FormState {
                comment_draft: form.body,
                comment_private: private,
                errors: FieldErrors::one("comment", field_error.message),
                ..FormState::default()
            };
            item_page(&state, &viewer, id, StatusCode::UNPROCESSABLE_ENTITY, forms).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The add-a-link form's value that closes the item as a duplicate of the target.
const CLOSE_AS_DUPLICATE: &str = "close_as_duplicate";

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    target: String,
}

/// Adds a link (or closes the item as a duplicate): the page at its links on success; the
/// form again, with what was sent, when refused.
pub async fn add_link(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<ItemId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let form: LinkForm = read_form(&viewer, &body)?;
    let user = viewer.user.clone();
    let kind = form.kind.trim().to_string();
    let target = form.target.trim().to_string();
    let outcome = match ItemReference::parse(&target) {
        Some(reference) => {
            state
                .database
                .write(move |connection| {
                    let target = reference.resolve(connection, &user)?;
                    if kind == CLOSE_AS_DUPLICATE {
                        link::close_as_duplicate(connection, &user, id, target)
                    } else {
                        link::add(connection, &user, id, &kind, target)
                    }
                })
                .await
        }
        None if target.is_empty() => Err(Error::invalid("target", "enter the key or number of the item to link")),
        None => {
            Err(Error::invalid("target", format!("{target:?} is not an item key or number (such as OPS-42 or #123)")))
        }
    };
    let refused = |errors: FieldErrors, notice: Notice| FormState {
        link_draft: (form.kind.clone(), form.target.clone()),
        errors,
        notice: Some(notice),
        ..FormState::default()
    };
    let forms = match outcome {
        // Undone by removing the link; a duplicate's closing is not (the status has its own way).
        Ok(_) if form.kind == CLOSE_AS_DUPLICATE => return Ok(see_other(&format!("/items/{id}?done=linked#links"))),
        Ok(link) => return Ok(see_other(&format!("/items/{id}?done=linked&link={}#links", link.id))),
        Err(Error::Invalid(field_error)) => refused(
            FieldErrors::one(&format!("link_{}", field_error.field), field_error.message.clone()),
            Notice { kind: "error", text: format!("Not linked: {}", field_error.message) },
        ),
        // An item the viewer cannot read is refused as one that does not exist, on this
        // page rather than on an error page.
        Err(Error::NotFound(_)) => refused(
            FieldErrors::one("link_target", format!("there is no item {} you can see", form.target.trim())),
            Notice { kind: "error", text: format!("Not linked: there is no item {} you can see", form.target.trim()) },
        ),
        Err(Error::Conflict(message) | Error::Forbidden(message)) => {
            refused(FieldErrors::default(), Notice { kind: "error", text: format!("Not linked: {message}") })
        }
        Err(other) => return Err(other.into()),
    };
    item_page(&state, &viewer, id, StatusCode::UNPROCESSABLE_ENTITY, forms).await
}

/// The remove button of a link carries only its CSRF token.
#[derive(Deserialize)]
pub struct RemoveLinkForm {}

pub async fn remove_link(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(ItemId, LinkId)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (id, link_id) = path.into_inner();
    let _: RemoveLinkForm = read_form(&viewer, &body)?;
    let user = viewer.user.clone();
    state.database.write(move |connection| link::remove(connection, &user, id, link_id)).await?;
    Ok(see_other(&format!("/items/{id}?done=unlinked#links")))
}

#[derive(Deserialize)]
pub struct LabelForm {
    /// The label to add (not sent by the remove buttons).
    #[serde(default)]
    label: String,
}

/// Gives the item one more label, or takes one off (`remove`), on top of the labels it has
/// now: a change of another field meanwhile is kept.
async fn change_labels(
    state: &AppState,
    viewer: &Viewer,
    id: ItemId,
    form: LabelForm,
    remove: Option<LabelId>,
) -> Result<HttpResponse, PageError> {
    let user = viewer.user.clone();
    let now = state.database.run(move |connection| item::get(connection, &user, id)).await?;
    let changes = (|| {
        let mut labels: Vec<LabelId> =
            now.labels.iter().map(|held| held.id).filter(|held| Some(*held) != remove).collect();
        if remove.is_none() {
            let added = parse_number("labels", &form.label)?
                .ok_or_else(|| Error::invalid("labels", "choose a label to add"))?;
            labels.push(LabelId(added));
        }
        Ok(ItemUpdate { guard: Guard::Version(now.version), labels: Some(labels), ..ItemUpdate::default() })
    })();
    let then = match (remove, parse_number("labels", &form.label)) {
        (Some(taken), _) => format!("?done=label-removed&label={taken}#labels"),
        (None, Ok(Some(added))) => format!("?done=label-added&label={added}#labels"),
        (None, _) => "#labels".to_string(),
    };
    save_changes(state, viewer, id, changes, None, &then).await
}

pub async fn add_label(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<ItemId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: LabelForm = read_form(&viewer, &body)?;
    change_labels(&state, &viewer, path.into_inner(), form, None).await
}

pub async fn remove_label(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(ItemId, LabelId)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (id, label) = path.into_inner();
    let form: LabelForm = read_form(&viewer, &body)?;
    change_labels(&state, &viewer, id, form, Some(label)).await
}

/// Watch and unwatch forms carry only their CSRF token.
#[derive(Deserialize)]
pub struct WatchForm {}

pub async fn watch_item(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<ItemId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let _: WatchForm = read_form(&viewer, &body)?;
    let user = viewer.user.clone();
    state.database.write(move |connection| watcher::add(connection, &user, id, user.id)).await?;
    Ok(see_other(&format!("/items/{id}?done=watching")))
}

pub async fn unwatch_item(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<ItemId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let _: WatchForm = read_form(&viewer, &body)?;
    let user = viewer.user.clone();
    state.database.write(move |connection| watcher::remove(connection, &user, id, user.id)).await?;
    Ok(see_other(&format!("/items/{id}?done=unwatched")))
}

fn multipart_error(error: actix_multipart::MultipartError) -> Error {
    Error::invalid("file", format!("the upload did not arrive complete: {error}"))
}

/// Receives the upload form: the CSRF token must come before the file (browsers send
/// fields in document order), so nothing is stored for a forged request.
async fn receive_upload(state: &AppState, viewer: &Viewer, mut payload: Multipart) -> Result<NewAttachment, PageError> {
    let mut csrf_checked = false;
    let mut staged = None;
    while let Some(mut field) = payload.try_next().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == CSRF_FIELD {
            let mut token = Vec::new();
            while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
                token.extend_from_slice(&chunk);
                if token.len() > 128 {
                    return Err(PageError::Csrf);
                }
            }
            check_csrf(viewer, std::str::from_utf8(&token).ok())?;
            csrf_checked = true;
        } else if name == "file" && csrf_checked && staged.is_none() {
            let file_name = field
                .content_disposition()
                .and_then(|disposition| disposition.get_filename())
                .unwrap_or_default()
                .to_string();
            if file_name.is_empty() {
                return Err(Error::invalid("file", "choose a file to upload").into());
            }
            let file_name = attachment::parse_file_name(&file_name)?;
            let content_type = normalise_content_type(field.content_type().map(|mime| mime.as_ref()));
            let mut writer = state.files.start_upload(state.settings.limits.max_attachment_size)?;
            while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
                writer.write_chunk(&chunk)?;
            }
            staged = Some(NewAttachment { comment_id: None, file_name, content_type, staged: writer.finish()? });
        } else if !csrf_checked {
            return Err(PageError::Csrf);
        } else {
            return Err(Error::invalid("file", "send one file with the upload form").into());
        }
    }
    if !csrf_checked {
        return Err(PageError::Csrf);
    }
    staged.ok_or_else(|| Error::invalid("file", "choose a file to upload").into())
}

pub async fn upload_attachment(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<ItemId>,
    payload: Multipart,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let check_user = viewer.user.clone();
    state.database.run(move |connection| attachment::require_can_attach(connection, &check_user, id)).await?;
    let received = match receive_upload(&state, &viewer, payload).await {
        Ok(upload) => {
            let (files, user) = (state.files.clone(), viewer.user.clone());
            state
                .database
                .write(move |connection| attachment::create(connection, &files, &user, id, upload))
                .await
                .map_err(PageError::from)
        }
        Err(error) => Err(error),
    };
    match received {
        Ok(_) => Ok(see_other(&format!("/items/{id}?done=uploaded#attachments"))),
        Err(PageError::Model(Error::Invalid(field_error))) => {
            let forms = FormState { errors: FieldErrors::one("file", field_error.message), ..FormState::default() };
            item_page(&state, &viewer, id, StatusCode::UNPROCESSABLE_ENTITY, forms).await
        }
        Err(PageError::Model(Error::TooLarge(message))) => {
            let forms = FormState { errors: FieldErrors::one("file", message), ..FormState::default() };
            item_page(&state, &viewer, id, StatusCode::PAYLOAD_TOO_LARGE, forms).await
        }
        Err(other) => Err(other),
    }
}
