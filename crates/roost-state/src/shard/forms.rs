//! Forms: creation, public submissions, binding to a queue, and the mirroring outbox.

use subtle::ConstantTimeEq;

use super::{refuse, Effect, Effects, Lookup, Outcome, ShardState};
use crate::{
    Binding, CommandError, Form, FormId, LookupError, MirrorWork, QueryResult, Response, Submission,
};

impl ShardState {
    pub(super) fn create_form(
        &mut self,
        now: u64,
        id: &FormId,
        key_digest: &[u8; 32],
        name: &str,
        fx: &mut Effects,
    ) -> Outcome {
        if self.forms.contains_key(id) {
            return refuse(CommandError::Invalid("form id already exists".into()));
        }
        let form = Form {
            id: id.clone(),
            key_digest: *key_digest,
            name: name.to_owned(),
            created_at_ms: now,
            head_seq: 0,
            binding: None,
            mirrored_through: 0,
            mirror_error: None,
        };
        self.forms.insert(id.clone(), form.clone());
        fx.push(Effect::PutForm(id.clone()));
        Ok(Ok(Response::FormCreated { form }))
    }

    pub(super) fn submit(
        &mut self,
        now: u64,
        form: &FormId,
        id: &str,
        payload: &str,
        fx: &mut Effects,
    ) -> Outcome {
        let Some(f) = self.forms.get_mut(form) else {
            return refuse(CommandError::FormNotFound);
        };
        f.head_seq += 1;
        let submission = Submission {
            id: id.to_owned(),
            seq: f.head_seq,
            at_ms: now,
            payload: payload.to_owned(),
        };
        if f.binding.is_none() {
            // Nothing to mirror: keep the outbox empty.
            f.mirrored_through = f.head_seq;
        }
        let mirrored = f.binding.is_some();
        fx.push(Effect::PutForm(form.clone()));
        fx.push(Effect::PutSubmission {
            form: form.clone(),
            submission,
        });
        Ok(Ok(Response::Submitted {
            id: id.to_owned(),
            seq: f.head_seq,
            mirrored,
        }))
    }

    pub(super) fn bind_form(
        &mut self,
        form: &FormId,
        auth: &[u8; 32],
        binding: &Binding,
        fx: &mut Effects,
    ) -> Outcome {
        let f = match self.form_authorized(form, auth) {
            Ok(f) => f,
            Err(e) => return refuse(e),
        };
        if f.binding.as_ref() != Some(binding) {
            // Only submissions after the binding are mirrored.
            f.binding = Some(binding.clone());
            f.mirrored_through = f.head_seq;
            f.mirror_error = None;
        }
        let form_state = f.clone();
        fx.push(Effect::PutForm(form.clone()));
        Ok(Ok(Response::FormState { form: form_state }))
    }

    pub(super) fn mirror_done(
        &mut self,
        form: &FormId,
        through: u64,
        failed: Option<&str>,
        queue: &crate::QueueId,
        fx: &mut Effects,
    ) -> Outcome {
        let Some(f) = self.forms.get_mut(form) else {
            return refuse(CommandError::FormNotFound);
        };
        if f.binding.as_ref().map(|b| &b.queue) != Some(queue) {
            // A report about an earlier binding: the current one has its own progress.
            return Ok(Ok(Response::Done));
        }
        f.mirrored_through = f.mirrored_through.max(through.min(f.head_seq));
        if let Some(reason) = failed {
            f.binding = None;
            f.mirror_error = Some(reason.to_owned());
            f.mirrored_through = f.head_seq;
        }
        fx.push(Effect::PutForm(form.clone()));
        Ok(Ok(Response::Done))
    }

    pub(super) fn submission_page(
        &self,
        form: &FormId,
        auth: &[u8; 32],
        after: u64,
        limit: usize,
        lookup: &dyn Lookup,
    ) -> Outcome<QueryResult> {
        let f = match self.forms.get(form) {
            None => return refuse(CommandError::FormNotFound),
            Some(f) if !bool::from(f.key_digest.ct_eq(auth)) => {
                return refuse(CommandError::FormUnauthorized)
            }
            Some(f) => f,
        };
        let rows = lookup.submissions(form, after, limit)?;
        let next_cursor = rows.last().map_or(after, |s| s.seq);
        Ok(Ok(QueryResult::SubmissionPage {
            form: f.clone(),
            has_more: next_cursor < f.head_seq,
            rows,
            next_cursor,
        }))
    }

    /// Pending mirror work across forms, at most `limit` submissions in all.
    pub(super) fn outbox(
        &self,
        limit: usize,
        lookup: &dyn Lookup,
    ) -> Result<QueryResult, LookupError> {
        let mut work = Vec::new();
        let mut left = limit;
        for f in self.forms.values().filter(|f| f.mirror_pending()) {
            if left == 0 {
                break;
            }
            let Some(binding) = f.binding.clone() else {
                continue;
            };
            let submissions = lookup.submissions(&f.id, f.mirrored_through, left)?;
            left = left.saturating_sub(submissions.len());
            work.push(MirrorWork {
                form: f.id.clone(),
                binding,
                submissions,
            });
        }
        Ok(QueryResult::Outbox(work))
    }

    fn form_authorized(&mut self, id: &FormId, auth: &[u8; 32]) -> Result<&mut Form, CommandError> {
        let f = self.forms.get_mut(id).ok_or(CommandError::FormNotFound)?;
        if bool::from(f.key_digest.ct_eq(auth)) {
            Ok(f)
        } else {
            Err(CommandError::FormUnauthorized)
        }
    }
}
