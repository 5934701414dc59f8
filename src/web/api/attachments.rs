//! Uploads (multipart, streamed to disk with the size limit enforced as bytes arrive)
//! and downloads (always as a download, never rendered by the browser).

use actix_files::NamedFile;
use actix_multipart::Multipart;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue, HeaderValue,
};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use serde_json::json;

use crate::error::Error;
use crate::model::attachment::{self, Attachment, NewAttachment, normalise_content_type};
use crate::model::ids::{AttachmentId, CommentId};
use crate::model::item::key::ItemReference;
use crate::web::AppState;
use crate::web::api::read_item;
use crate::web::auth::{Caller, Credentials};
use crate::web::error::ApiError;

fn multipart_error(error: actix_multipart::MultipartError) -> Error {
    Error::invalid("file", format!("the upload is not valid multipart/form-data: {error}"))
}

pub async fn upload_attachment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ItemReference>,
    mut payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let user = caller.user.clone();
    let item_id = state
        .database
        .run(move |connection| {
            let item_id = reference.resolve(connection, &user)?;
            attachment::require_can_attach(connection, &user, item_id)?;
            Ok(item_id)
        })
        .await?;

    let mut staged = None;
    let mut comment_id = None;
    while let Some(mut field) = payload.try_next().await.map_err(multipart_error)? {
        match field.name().unwrap_or_default() {
            "file" => {
                if staged.is_some() {
                    return Err(Error::invalid("file", "send one file per request").into());
                }
                let file_name = field
                    .content_disposition()
                    .and_then(|disposition| disposition.get_filename())
                    .map(str::to_string)
                    .ok_or_else(|| Error::invalid("file", "the file part has no filename"))?;
                let file_name = attachment::parse_file_name(&file_name)?;
                let content_type = normalise_content_type(field.content_type().map(|mime| mime.as_ref()));
                let mut writer = state.files.start_upload(state.settings.limits.max_attachment_size)?;
                while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
                    writer.write_chunk(&chunk)?;
                }
                staged = Some((file_name, content_type, writer.finish()?));
            }
            "comment_id" => {
                let mut text = Vec::new();
                while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
                    text.extend_from_slice(&chunk);
                    if text.len() > 20 {
                        return Err(Error::invalid("comment_id", "is not a comment id").into());
                    }
                }
                let parsed = std::str::from_utf8(&text)
                    .ok()
                    .and_then(|text| text.trim().parse::<i64>().ok())
                    .ok_or_else(|| Error::invalid("comment_id", "is not a comment id"))?;
                comment_id = Some(CommentId(parsed));
            }
            other => {
                return Err(Error::invalid(
                    other.to_string(),
                    "unknown form field: send \"file\" and optionally \"comment_id\"",
                )
                .into());
            }
        }
    }
    let (file_name, content_type, staged) =
        staged.ok_or_else(|| Error::invalid("file", "the form has no \"file\" part"))?;
    let files = state.files.clone();
    let created = state
        .database
        .write(move |connection| {
            let upload = NewAttachment { comment_id, file_name, content_type, staged };
            attachment::create(connection, &files, &caller.user, item_id, upload)
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

pub async fn list_attachments(
    state: web::Data<AppState>,
    credentials: Credentials,
    path: web::Path<ItemReference>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let attachments = read_item(&state, credentials, reference, attachment::list).await?;
    Ok(HttpResponse::Ok().json(json!({"attachments": attachments})))
}

pub async fn download_attachment(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<AttachmentId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let files = state.files.clone();
    let (found, file_path) = state
        .database
        .run(move |connection| attachment::get_for_download(connection, &files, &caller.user, id))
        .await?;
    let content_type: mime::Mime = found.content_type.parse().unwrap_or(mime::APPLICATION_OCTET_STREAM);
    serve(&request, &found, &file_path, content_type, DispositionType::Attachment).await
}

/// An image attachment to show in a page (`<img>`): only a PNG, JPEG, GIF or WebP whose content
/// is what its type says (415 otherwise, 413 when too large), inline, under the same sandbox.
pub async fn show_image(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<AttachmentId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let files = state.files.clone();
    let (found, file_path, image_type) =
        state.database.run(move |connection| attachment::get_image(connection, &files, &caller.user, id)).await?;
    let content_type: mime::Mime = image_type.parse().unwrap_or(mime::APPLICATION_OCTET_STREAM);
    serve(&request, &found, &file_path, content_type, DispositionType::Inline).await
}

/// The file, named, with headers that keep a browser from running or sniffing it.
async fn serve(
    request: &HttpRequest,
    found: &Attachment,
    file_path: &std::path::Path,
    content_type: mime::Mime,
    disposition: DispositionType,
) -> Result<HttpResponse, ApiError> {
    let ascii_name: String =
        found.file_name.chars().map(|c| if c.is_ascii_graphic() && c != '"' || c == ' ' { c } else { '_' }).collect();
    let disposition = ContentDisposition {
        disposition,
        parameters: vec![
            DispositionParam::Filename(ascii_name),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: found.file_name.clone().into_bytes(),
            }),
        ],
    };
    let file = NamedFile::open_async(file_path)
        .await
        .map_err(|error| Error::internal(format!("opening attachment {}", found.id), error))?
        .set_content_type(content_type)
        .set_content_disposition(disposition)
        .use_etag(true)
        .use_last_modified(false);
    let mut response = file.into_response(request);
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    // Only the browser of the user who may read it keeps a copy, and asks again each time
    // (a cheap 304 by ETag), so access taken away applies to the next download.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    Ok(response)
}
