//! Failed deliveries (nack), the dead-letter queue and its replay.

use roost_state::command as cmd;
use std::net::IpAddr;

use roost_node::{Denied, Replay};
use roost_state::{ids, Command, DlqEntry, Envelope, Query, QueryResult, Response};

use super::messages::payer;
use super::{consumer_id, Nack, QueueRef};
use crate::input::page_limit;
use crate::input::MAX_ERROR_BYTES;
use crate::{Api, Error, ErrorCode};

/// Dead letters per page when the request names no limit, and the most it may name.
const DLQ_PAGE: (u32, u32) = (50, 1000);

/// What a nack did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nacked {
    /// The message.
    pub seq: u64,
    /// Its failures so far.
    pub nack_count: u32,
    /// Whether it is now in the dead-letter queue.
    pub dead_lettered: bool,
}

/// A page of dead letters.
#[derive(Clone, Debug)]
pub struct DeadLetters {
    /// Each dead letter with its row cursor.
    pub rows: Vec<(u64, DlqEntry)>,
    /// The cursor of the next page.
    pub next_cursor: u64,
    /// Whether there is a next page.
    pub has_more: bool,
    /// The limit applied.
    pub limit: u32,
}

/// What became of a replay.
#[derive(Clone, Debug)]
pub enum Replayed {
    /// Published again as this new envelope.
    Done(Envelope),
    /// The payer is over its monthly quota: nothing was replayed, the dead letter stays.
    OverQuota(Denied),
}

impl Api {
    /// Counts a failed delivery, dead-lettering the message when asked or when it has failed
    /// `max_deliveries` times.
    pub async fn nack(&self, q: &QueueRef, req: Nack) -> Result<Nacked, Error> {
        let consumer = consumer_id(&req.consumer_id)?;
        if req.error.len() > MAX_ERROR_BYTES {
            return Err(Error::new(
                ErrorCode::InvalidError,
                format!("error must be at most {MAX_ERROR_BYTES} bytes"),
                "Send a shorter error description.",
            ));
        }
        let command = Command::Nack(cmd::Nack {
            queue: q.id.clone(),
            auth: q.auth,
            consumer,
            seq: req.seq,
            error: req.error,
            dead_letter: req.dead_letter,
        });
        match self.q_write(&q.id, command).await? {
            Response::Nacked {
                seq,
                nack_count,
                dead_lettered,
            } => Ok(Nacked {
                seq,
                nack_count,
                dead_lettered,
            }),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// One exact page of the dead-letter queue, after row `cursor`.
    pub async fn dead_letters(
        &self,
        q: &QueueRef,
        cursor: Option<u64>,
        limit: Option<u32>,
    ) -> Result<DeadLetters, Error> {
        let limit = page_limit(limit, DLQ_PAGE)?;
        let query = Query::Dlq {
            queue: q.id.clone(),
            auth: q.auth,
            after: cursor.unwrap_or(0),
            limit: limit as usize,
        };
        match self.q_read(&q.id, query).await? {
            QueryResult::DlqPage {
                rows,
                next_cursor,
                has_more,
            } => Ok(DeadLetters {
                rows,
                next_cursor,
                has_more,
                limit,
            }),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// Publishes dead letter `dlq_msg_id` again as a new envelope, charged as a publish to the
    /// queue's owner or else to `addr`.
    pub async fn replay(
        &self,
        q: &QueueRef,
        addr: Option<IpAddr>,
        dlq_msg_id: &str,
    ) -> Result<Replayed, Error> {
        let command = Command::ReplayDlq(cmd::ReplayDlq {
            queue: q.id.clone(),
            auth: q.auth,
            dlq_msg_id: dlq_msg_id.to_owned(),
            id: ids::message_id(self.random()),
        });
        match self.node().replay_charged(command, &payer(addr)).await? {
            Replay::OverQuota(d) => Ok(Replayed::OverQuota(d)),
            Replay::Applied(applied) => match *applied {
                Response::Replayed { envelope } => Ok(Replayed::Done(envelope)),
                Response::Refused(e) => Err(e.into()),
                other => Err(Error::unexpected(&other)),
            },
        }
    }
}
