//! Forms: created without a key, public submissions (with a honeypot field and a per-address
//! limit), listed for the form key holder, and bound to a queue (proof of both keys) so every
//! later submission is mirrored into it.

use roost_state::command as cmd;
use std::net::IpAddr;

use roost_state::{
    ids, Binding, Command, Form, FormId, Query, QueryResult, QueueId, Response, Submission,
};
use serde_json::{Map, Value};

use crate::input::page_limit;
use crate::keys::digest;
use crate::{Api, Error, ErrorCode, QueueRef};

/// The honeypot field: people never fill it in, form-filling bots do.
const HONEYPOT: &str = "_gotcha";
/// Submissions per page when the request names no limit, and the most it may name.
const SUBMISSION_PAGE: (u32, u32) = (50, 1000);

/// A created form and its key, shown this once.
#[derive(Clone, Debug)]
pub struct CreatedForm {
    /// The form.
    pub id: FormId,
    /// Its key.
    pub key: String,
}

/// A form's key holder's view of it: the form and one page of its submissions.
#[derive(Clone, Debug)]
pub struct SubmissionPage {
    /// The form.
    pub form: Form,
    /// The submissions, in the order they arrived.
    pub rows: Vec<Submission>,
    /// The cursor of the next page.
    pub next_cursor: u64,
    /// Whether there is a next page.
    pub has_more: bool,
}

/// The form `raw` names.
fn form_id(api: &Api, raw: &str) -> Result<FormId, Error> {
    FormId::parse(raw)
        .filter(|id| (1..=api.node().shards()).contains(&id.shard()))
        .ok_or_else(|| {
            Error::new(
                ErrorCode::FormNotFound,
                "form not found",
                "Check the form id; create a form with POST /new.",
            )
        })
}

/// The digest of a presented form key.
fn form_key(key: Option<&str>) -> Result<[u8; 32], Error> {
    let key = key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::MissingApiKey,
                "missing Authorization: Bearer <form_api_key>",
                "Send the form_api_key returned by POST /new as 'Authorization: Bearer <key>'.",
            )
        })?;
    Ok(digest(key.as_bytes()))
}

impl Api {
    /// Creates a form named `name` (at most 200 bytes) for the client at `addr`.
    pub async fn create_form(
        &self,
        addr: Option<IpAddr>,
        name: String,
    ) -> Result<CreatedForm, Error> {
        self.create_limit()
            .check(addr, self.settings().creates_per_minute, "creates")?;
        if name.len() > 200 {
            return Err(Error::new(
                ErrorCode::InvalidName,
                "name must be at most 200 bytes",
                "Use a shorter name.",
            ));
        }
        let key = self.mint_key("fk_");
        let id = FormId::new(self.node().pick_shard(), self.random());
        let command = Command::CreateForm(cmd::CreateForm {
            id: id.clone(),
            key_digest: digest(key.as_bytes()),
            name,
        });
        match self.node().write(id.shard(), command).await? {
            Response::FormCreated { .. } => Ok(CreatedForm { id, key }),
            Response::Refused(e) => Err(e.into()),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// Takes a public submission of `fields` to form `raw` from `addr`; answers its id, or
    /// `None` when the honeypot was filled in (a bot: nothing is stored, and it is not told).
    pub async fn submit_form(
        &self,
        addr: Option<IpAddr>,
        raw: &str,
        mut fields: Map<String, Value>,
    ) -> Result<Option<String>, Error> {
        let id = form_id(self, raw)?;
        self.submission_limit().check(
            addr,
            self.settings().form_submissions_per_minute,
            "submissions",
        )?;
        if fields
            .remove(HONEYPOT)
            .is_some_and(|v| v.as_str().is_none_or(|s| !s.is_empty()))
        {
            return Ok(None);
        }
        if fields.is_empty() {
            return Err(Error::new(
                ErrorCode::EmptySubmission,
                "the submission has no fields",
                "Send at least one field.",
            ));
        }
        let command = Command::Submit(cmd::Submit {
            form: id.clone(),
            id: ids::submission_id(self.random()),
            payload: Value::Object(fields).to_string(),
        });
        match self.node().write(id.shard(), command).await? {
            Response::Submitted {
                id: sub, mirrored, ..
            } => {
                if mirrored {
                    self.node().mirror_soon(id.shard());
                }
                Ok(Some(sub))
            }
            Response::Refused(e) => Err(e.into()),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// One page of form `raw`'s submissions after `cursor`, for the holder of its key.
    pub async fn submissions(
        &self,
        raw: &str,
        key: Option<&str>,
        cursor: Option<u64>,
        limit: Option<u32>,
    ) -> Result<SubmissionPage, Error> {
        let id = form_id(self, raw)?;
        let auth = form_key(key)?;
        let limit = page_limit(limit, SUBMISSION_PAGE)?;
        let query = Query::Submissions {
            form: id.clone(),
            auth,
            after: cursor.unwrap_or(0),
            limit: limit as usize,
        };
        match self.node().read(id.shard(), query).await? {
            QueryResult::SubmissionPage {
                form,
                rows,
                next_cursor,
                has_more,
            } => Ok(SubmissionPage {
                form,
                rows,
                next_cursor,
                has_more,
            }),
            QueryResult::Refused(e) => Err(e.into()),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// Binds form `raw` (its key: `key`) to a queue, proven by the queue's key: every later
    /// submission is mirrored into the queue.
    pub async fn bind_form(
        &self,
        raw: &str,
        key: Option<&str>,
        queue_id: &str,
        queue_key: Option<&str>,
    ) -> Result<(FormId, QueueId), Error> {
        let id = form_id(self, raw)?;
        let auth = form_key(key)?;
        let queue: QueueRef = self
            .queue_ref(queue_id, queue_key)
            .map_err(|e| match e.code {
                ErrorCode::MissingApiKey => Error::new(
                    ErrorCode::MissingQueueKey,
                    "binding needs the queue's key as well as the form's",
                    "Send the queue_api_key in the body (or an X-Queue-Api-Key header) with the form key as Bearer.",
                ),
                _ => e,
            })?;
        // Proof of the queue key: a read of the queue that its key authorizes.
        self.get_queue(&queue).await?;
        let command = Command::BindForm(cmd::BindForm {
            form: id.clone(),
            auth,
            binding: Binding {
                queue: queue.id.clone(),
                queue_auth: queue.auth,
            },
        });
        match self.node().write(id.shard(), command).await? {
            Response::FormState { .. } => Ok((id, queue.id)),
            Response::Refused(e) => Err(e.into()),
            other => Err(Error::unexpected(&other)),
        }
    }
}
