//! The queue API (`/q/*`), with the queue's key as credential, and binding a form to a queue.

use reqwest::{Method, StatusCode};
use roost_wire::{
    Ack, Acked, BindForm, CreateQueue, DeadLetters, Doc, FormBound, Nack, Nacked, PublishBatch,
    Published, PublishedBatch, Pull, Pulled, QueueCreated, QueueHeld, QueueInfo, Replay, Replayed,
};

use crate::{json, Client, Error};

/// What became of a publish.
#[derive(Clone, Debug)]
pub enum Publish {
    /// Stored (`replayed`: an idempotent repeat, answered with the first publish).
    Stored {
        /// The reply.
        reply: Published,
        /// Whether the key was seen before (the `Idempotent-Replayed` header).
        replayed: bool,
    },
    /// A publish held back by the payer's quota earlier and still held (202).
    Held(QueueHeld),
}

impl Client {
    /// Creates a queue (no credential needed); its key is in the reply, shown this once.
    pub async fn create_queue(&self, req: &CreateQueue) -> Result<QueueCreated, Error> {
        let r = self.request(Method::POST, &["q", "create"], None);
        self.call(json(r, req)?).await
    }

    /// The queue's state: head, floor, counts, every consumer's cursor, settings.
    pub async fn get_queue(&self, queue: &str, key: &str) -> Result<QueueInfo, Error> {
        self.call(self.request(Method::GET, &["q", queue], Some(key)))
            .await
    }

    /// Publishes `payload`; with `idempotency_key`, a repeat answers the first publish.
    pub async fn publish(
        &self,
        queue: &str,
        key: &str,
        payload: &Doc,
        idempotency_key: Option<&str>,
    ) -> Result<Publish, Error> {
        let mut r = json(
            self.request(Method::POST, &["q", queue, "publish"], Some(key)),
            payload,
        )?;
        if let Some(k) = idempotency_key {
            r = r.header("idempotency-key", k);
        }
        let answer = self.send(r).await?;
        if answer.status == StatusCode::ACCEPTED {
            return answer.decode().map(Publish::Held);
        }
        let replayed = answer
            .headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        Ok(Publish::Stored {
            reply: answer.decode()?,
            replayed,
        })
    }

    /// Publishes the batch's messages in their order, each as if alone; the reply holds each
    /// one's outcome (stored, held, or refused while the others went in).
    pub async fn publish_batch(
        &self,
        queue: &str,
        key: &str,
        batch: &PublishBatch,
    ) -> Result<PublishedBatch, Error> {
        let r = self.request(Method::POST, &["q", queue, "publish", "batch"], Some(key));
        self.call(json(r, batch)?).await
    }

    /// Up to `limit` messages past the cursor, waiting up to `wait` seconds for one.
    pub async fn pull(&self, queue: &str, key: &str, req: &Pull) -> Result<Pulled, Error> {
        let r = self.request(Method::GET, &["q", queue, "pull"], Some(key));
        self.call(r.query(req)).await
    }

    /// Moves a consumer's cursor (never lowers it).
    pub async fn ack(&self, queue: &str, key: &str, req: &Ack) -> Result<Acked, Error> {
        let r = self.request(Method::POST, &["q", queue, "ack"], Some(key));
        self.call(json(r, req)?).await
    }

    /// Counts a failed delivery, dead-lettering the message when asked or when it failed
    /// `max_deliveries` times.
    pub async fn nack(&self, queue: &str, key: &str, req: &Nack) -> Result<Nacked, Error> {
        let r = self.request(Method::POST, &["q", queue, "nack"], Some(key));
        self.call(json(r, req)?).await
    }

    /// A page of the dead-letter queue, from `cursor`.
    pub async fn dead_letters(
        &self,
        queue: &str,
        key: &str,
        cursor: Option<u64>,
        limit: Option<u32>,
    ) -> Result<DeadLetters, Error> {
        let r = self.request(Method::GET, &["q", queue, "dlq"], Some(key));
        self.call(r.query(&[("cursor", cursor), ("limit", limit.map(u64::from))]))
            .await
    }

    /// Publishes a dead letter again, as a new envelope.
    pub async fn replay(
        &self,
        queue: &str,
        key: &str,
        dlq_msg_id: &str,
    ) -> Result<Replayed, Error> {
        let r = self.request(Method::POST, &["q", queue, "dlq", "replay"], Some(key));
        let body = Replay {
            dlq_msg_id: dlq_msg_id.to_owned(),
        };
        self.call(json(r, &body)?).await
    }

    /// Binds form `form` (its key as credential) to a queue: later submissions are published
    /// into it.
    pub async fn bind_form(
        &self,
        form: &str,
        form_key: &str,
        req: &BindForm,
    ) -> Result<FormBound, Error> {
        let r = self.request(Method::PUT, &["api", "forms", form], Some(form_key));
        self.call(json(r, req)?).await
    }
}
