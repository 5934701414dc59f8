//! Attachments on items (optionally tied to one of the item's comments). File contents
//! live under `data_dir/attachments`, content-addressed by SHA-256, so equal files are
//! stored once and names never touch the file system.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::schema::{attachment_orphans, attachments, comments, users};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::history::{self, FieldChange};
use crate::model::ids::{AttachmentId, CommentId, ItemId};
use crate::model::permission::{self, Permission, ReadableItem};
use crate::model::user::{User, UserSummary};
use crate::model::{comment, item};
use crate::timestamp;

#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub id: AttachmentId,
    pub item_id: ItemId,
    pub comment_id: Option<CommentId>,
    pub uploader: UserSummary,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub created_at: NaiveDateTime,
}

type AttachmentRow = (AttachmentId, ItemId, Option<CommentId>, UserSummary, String, String, i64, String, NaiveDateTime);

fn from_row(row: AttachmentRow) -> Attachment {
    let (id, item_id, comment_id, uploader, file_name, content_type, size_bytes, sha256, created_at) = row;
    Attachment { id, item_id, comment_id, uploader, file_name, content_type, size_bytes, sha256, created_at }
}

macro_rules! attachment_columns {
    () => {
        (
            attachments::id,
            attachments::item_id,
            attachments::comment_id,
            UserSummary::as_select(),
            attachments::file_name,
            attachments::content_type,
            attachments::size_bytes,
            attachments::sha256,
            attachments::created_at,
        )
    };
}

/// A file name as uploaded: a plain name, no folders, no control characters.
pub fn parse_file_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid("file", "the file has no name"));
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(Error::invalid("file", format!("file name {name:?} must not contain folders")));
    }
    if name.chars().any(char::is_control) || name.len() > 255 {
        return Err(Error::invalid("file", "file name must be at most 255 bytes without control characters"));
    }
    Ok(name.to_string())
}

/// A MIME type such as `text/plain`; anything unparsable becomes `application/octet-stream`.
pub fn normalise_content_type(content_type: Option<&str>) -> String {
    content_type
        .and_then(|text| text.parse::<mime::Mime>().ok())
        .map(|mime| mime.essence_str().to_string())
        .unwrap_or_else(|| "application/octet-stream".to_string())
}

/// Where uploads are staged and stored.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

/// An upload written to disk and hashed, not yet recorded.
#[derive(Debug)]
pub struct StagedFile {
    path: PathBuf,
    pub sha256: String,
    pub size_bytes: u64,
}

impl StagedFile {
    /// The staged bytes (a large mail spooled to disk is read back when it is stored).
    pub fn read(&self) -> Result<Vec<u8>> {
        std::fs::read(&self.path)
            .map_err(|error| Error::internal(format!("cannot read {}", self.path.display()), error))
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        // Moved into the store on success; otherwise the staged copy is not needed.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Receives an upload chunk by chunk, enforcing the size limit as it goes.
pub struct StagingWriter {
    file: std::fs::File,
    path: PathBuf,
    hasher: Sha256,
    size_bytes: u64,
    limit: u64,
}

impl StagingWriter {
    pub fn write_chunk(&mut self, chunk: &[u8]) -> Result<()> {
        self.size_bytes += chunk.len() as u64;
        if self.size_bytes > self.limit {
            return Err(Error::TooLarge(format!(
                "the file is larger than the attachment limit of {} bytes (limits.max_attachment_size)",
                self.limit
            )));
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).map_err(|error| Error::internal("writing an upload", error))
    }

    pub fn finish(mut self) -> Result<StagedFile> {
        self.file
            .flush()
            .and_then(|_| self.file.sync_all())
            .map_err(|error| Error::internal("writing an upload", error))?;
        Ok(StagedFile {
            path: std::mem::take(&mut self.path),
            sha256: hex::encode(std::mem::take(&mut self.hasher).finalize()),
            size_bytes: self.size_bytes,
        })
    }
}

impl Drop for StagingWriter {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl FileStore {
    pub fn new(root: PathBuf) -> FileStore {
        FileStore { root }
    }

    /// Where uploads and spooled mails are written before they are stored.
    fn staging_dir(&self) -> PathBuf {
        self.root.join("staging")
    }

    pub fn ensure_folders(&self) -> Result<()> {
        std::fs::create_dir_all(self.staging_dir())
            .map_err(|error| Error::internal(format!("cannot create {}", self.root.display()), error))
    }

    pub fn start_upload(&self, limit: u64) -> Result<StagingWriter> {
        let mut random = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
        let path = self.staging_dir().join(hex::encode(random));
        let file = std::fs::File::create_new(&path)
            .map_err(|error| Error::internal(format!("cannot create {}", path.display()), error))?;
        Ok(StagingWriter { file, path, hasher: Sha256::new(), size_bytes: 0, limit })
    }

    /// Removes staging files last written more than `age` ago (left by a crash); returns how
    /// many.
    pub fn remove_stale_staging(&self, age: std::time::Duration) -> Result<usize> {
        let folder = self.staging_dir();
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(Error::internal(format!("cannot list {}", folder.display()), error)),
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let stale = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .is_ok_and(|modified| modified.elapsed().is_ok_and(|elapsed| elapsed > age));
            if stale && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The stored file for a digest: `attachments/ab/cd/abcd…`.
    pub fn path_of(&self, sha256: &str) -> Result<PathBuf> {
        if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::internal("attachment path", format!("bad digest {sha256:?}")));
        }
        Ok(self.root.join(&sha256[0..2]).join(&sha256[2..4]).join(sha256))
    }

    /// Moves a staged file into the store (a no-op when the same content is there already).
    pub fn keep(&self, staged: &StagedFile) -> Result<()> {
        let target = self.path_of(&staged.sha256)?;
        if target.exists() {
            return Ok(());
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| Error::internal(format!("cannot create {}", parent.display()), error))?;
        }
        std::fs::hard_link(&staged.path, &target)
            .or_else(|_| std::fs::copy(&staged.path, &target).map(|_| ()))
            .or_else(|error| if target.exists() { Ok(()) } else { Err(error) })
            .map_err(|error| Error::internal(format!("cannot store {}", target.display()), error))
    }
}

/// Removes the files of deleted items' attachments orphaned before `cutoff` that no attachment
/// names again (`item::deletion`); returns how many. Call inside a write transaction: each
/// row is taken before its file goes, so an upload of the same content waits, then stores the
/// file anew.
pub fn remove_orphans(connection: &mut DbConnection, store: &FileStore, cutoff: NaiveDateTime) -> Result<usize> {
    let due: Vec<String> = attachment_orphans::table
        .filter(attachment_orphans::orphaned_at.lt(cutoff))
        .select(attachment_orphans::sha256)
        .load(connection)?;
    let mut removed = 0;
    for sha256 in due {
        let taken =
            diesel::delete(attachment_orphans::table.find(&sha256).filter(attachment_orphans::orphaned_at.lt(cutoff)))
                .execute(connection)?;
        let used: i64 = attachments::table.filter(attachments::sha256.eq(&sha256)).count().get_result(connection)?;
        if taken == 0 || used > 0 {
            continue;
        }
        let path = store.path_of(&sha256)?;
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(Error::internal(format!("cannot remove {}", path.display()), error)),
        }
    }
    Ok(removed)
}

/// Checks that the actor may attach files to the item (before receiving the upload).
pub fn require_can_attach(connection: &mut DbConnection, actor: &User, item_id: ItemId) -> Result<()> {
    let (_, access) = permission::item_access(connection, actor, item_id)?;
    access.require(Permission::Report, &format!("item {item_id}"))
}

/// An uploaded file to record on an item (and optionally one of its comments).
#[derive(Debug)]
pub struct NewAttachment {
    pub comment_id: Option<CommentId>,
    pub file_name: String,
    pub content_type: String,
    pub staged: StagedFile,
}

pub fn create(
    connection: &mut DbConnection,
    store: &FileStore,
    actor: &User,
    item_id: ItemId,
    upload: NewAttachment,
) -> Result<Attachment> {
    let NewAttachment { comment_id, file_name, content_type, staged } = upload;
    let file_name = parse_file_name(&file_name)?;
    write_transaction(connection, |connection| {
        require_can_attach(connection, actor, item_id)?;
        // A comment the actor cannot see (a private note) is refused as one of another item.
        let note = match comment_id.map(|comment_id| comment::get(connection, actor, comment_id)) {
            Some(Ok(note)) => Some(note),
            None | Some(Err(Error::NotFound(_))) => None,
            Some(Err(error)) => return Err(error),
        };
        if let Some(comment_id) = comment_id
            && note.as_ref().map(|found| found.item_id) != Some(item_id)
        {
            return Err(Error::invalid(
                "comment_id",
                format!("comment {comment_id} does not belong to item {item_id}"),
            ));
        }
        // A file of a deleted item's attachments that the prune job may be removing: taking
        // its row waits for the job's transaction, after which the file is there or not.
        diesel::delete(attachment_orphans::table.find(&staged.sha256)).execute(connection)?;
        // The file is in place before the row commits: a crash leaves at worst an unused file.
        store.keep(&staged)?;
        let id: AttachmentId = diesel::insert_into(attachments::table)
            .values((
                attachments::item_id.eq(item_id),
                attachments::comment_id.eq(comment_id),
                attachments::uploader_id.eq(actor.id),
                attachments::file_name.eq(&file_name),
                attachments::content_type.eq(&content_type),
                attachments::size_bytes.eq(i64::try_from(staged.size_bytes).unwrap_or(i64::MAX)),
                attachments::sha256.eq(&staged.sha256),
            ))
            .returning(attachments::id)
            .get_result(connection)?;
        history::record(
            connection,
            item_id,
            actor.id,
            &[FieldChange {
                field: if note.is_some_and(|note| note.private) {
                    comment::PRIVATE_ATTACHMENT_FIELD
                } else {
                    "attachment"
                }
                .to_string(),
                old_value: None,
                new_value: Some(file_name.clone()),
            }],
        )?;
        item::touch(connection, item_id)?;
        load(connection, id)
    })
}

fn load(connection: &mut DbConnection, id: AttachmentId) -> Result<Attachment> {
    let row: AttachmentRow = attachments::table
        .inner_join(users::table)
        .filter(attachments::id.eq(id))
        .select(attachment_columns!())
        .first(connection)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("attachment {id}")))?;
    Ok(from_row(row))
}

pub fn list(connection: &mut DbConnection, actor: &User, item_id: ItemId) -> Result<Vec<Attachment>> {
    let (readable, access) = permission::item_access(connection, actor, item_id)?;
    of_item(connection, readable, comment::may_read_private(&access))
}

crate::db::dialect::item_subquery!(
    /// Whether an item has attachments, in its row's statement.
    AnyOfItem: diesel::sql_types::Bool,
    sql: "EXISTS (SELECT 1 FROM attachments WHERE attachments.item_id = \"items\".\"id\")"
);

/// The attachments of an item already checked, oldest first; those of private notes only
/// `with_private` (`comment::may_read_private`).
pub fn of_item(connection: &mut DbConnection, item: ReadableItem, with_private: bool) -> Result<Vec<Attachment>> {
    let mut query = attachments::table
        .inner_join(users::table)
        .filter(attachments::item_id.eq(item.id()))
        .order(attachments::id.asc())
        .select(attachment_columns!())
        .into_boxed();
    if !with_private {
        query = query.filter(diesel::dsl::not(diesel::dsl::exists(
            comments::table.filter(comments::id.nullable().eq(attachments::comment_id)).filter(comments::private),
        )));
    }
    let rows: Vec<AttachmentRow> = query.load(connection)?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The attachment and where its content is, if the actor may see its item.
pub fn get_for_download(
    connection: &mut DbConnection,
    store: &FileStore,
    actor: &User,
    id: AttachmentId,
) -> Result<(Attachment, PathBuf)> {
    let attachment = load(connection, id)?;
    let (_, access) = permission::item_access(connection, actor, attachment.item_id).map_err(|error| match error {
        Error::NotFound(_) => Error::not_found(format!("attachment {id}")),
        other => other,
    })?;
    // The file of a private note is as invisible as the note.
    if let Some(note) = attachment.comment_id
        && !comment::may_read_private(&access)
        && comments::table.find(note).select(comments::private).first::<bool>(connection)?
    {
        return Err(Error::not_found(format!("attachment {id}")));
    }
    let path = store.path_of(&attachment.sha256)?;
    if !Path::new(&path).exists() {
        return Err(Error::internal(
            format!("attachment {id}"),
            format!("content file {} is missing from the data directory", path.display()),
        ));
    }
    Ok((attachment, path))
}

/// The raster image types shown inline (`image`); anything else, SVG included, only
/// downloads.
pub const INLINE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The largest image shown inline; a larger one downloads.
pub const INLINE_LIMIT_BYTES: i64 = 10 * 1024 * 1024;

impl Attachment {
    /// Whether the page shows it as an image: a raster type, small enough. What the file
    /// really holds is checked when it is served (`get_image`).
    pub fn is_inline_image(&self) -> bool {
        INLINE_TYPES.contains(&self.content_type.as_str()) && self.size_bytes <= INLINE_LIMIT_BYTES
    }
}

/// The raster type the first bytes of a file show, if one of `INLINE_TYPES`.
pub fn raster_type(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// An attachment to show inline as an image, with where its file is and its type as its
/// content shows it: 415 unless its declared type and its content are the same raster type,
/// 413 above `INLINE_LIMIT_BYTES`.
pub fn get_image(
    connection: &mut DbConnection,
    store: &FileStore,
    actor: &User,
    id: AttachmentId,
) -> Result<(Attachment, PathBuf, &'static str)> {
    let (attachment, path) = get_for_download(connection, store, actor, id)?;
    if attachment.size_bytes > INLINE_LIMIT_BYTES {
        return Err(Error::TooLarge(format!(
            "attachment {id} is over {} MiB, too large to show inline: download it",
            INLINE_LIMIT_BYTES / 1024 / 1024
        )));
    }
    let mut head = [0u8; 12];
    let read = std::fs::File::open(&path)
        .and_then(|mut file| std::io::Read::read(&mut file, &mut head))
        .map_err(|error| Error::internal(format!("reading attachment {id}"), error))?;
    match raster_type(&head[..read]) {
        Some(found) if found == attachment.content_type => Ok((attachment, path, found)),
        _ => Err(Error::Unsupported(format!(
            "attachment {id} is not a PNG, JPEG, GIF or WebP image ({}): download it",
            attachment.content_type
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raster_types_are_told_by_their_first_bytes() {
        assert_eq!(raster_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(raster_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(raster_type(b"GIF89a\x01\0"), Some("image/gif"));
        assert_eq!(raster_type(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(raster_type(b"<svg xmlns="), None);
        assert_eq!(raster_type(b"<html><script>"), None);
        assert_eq!(raster_type(b"RIFF"), None);
    }

    #[test]
    fn file_names_with_folders_are_refused() {
        assert_eq!(parse_file_name("report.pdf").unwrap(), "report.pdf");
        assert!(parse_file_name("../../etc/passwd").is_err());
        assert!(parse_file_name("..").is_err());
        assert!(parse_file_name("a\\b.txt").is_err());
        assert!(parse_file_name("").is_err());
        assert!(parse_file_name("a\nb").is_err());
    }

    #[test]
    fn content_types_are_normalised() {
        assert_eq!(normalise_content_type(Some("text/plain; charset=utf-8")), "text/plain");
        assert_eq!(normalise_content_type(Some("nonsense")), "application/octet-stream");
        assert_eq!(normalise_content_type(None), "application/octet-stream");
    }

    #[test]
    fn staged_upload_is_hashed_and_limited() {
        let folder = tempfile::tempdir().unwrap();
        let store = FileStore::new(folder.path().to_path_buf());
        store.ensure_folders().unwrap();
        let mut writer = store.start_upload(10).unwrap();
        writer.write_chunk(b"hello").unwrap();
        let staged = writer.finish().unwrap();
        assert_eq!(staged.size_bytes, 5);
        assert_eq!(staged.sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        let mut writer = store.start_upload(3).unwrap();
        assert!(writer.write_chunk(b"hello").is_err());
    }
}
