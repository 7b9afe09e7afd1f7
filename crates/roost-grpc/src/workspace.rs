//! What the jobs and work-queue services share: the application layer, and the caller of a
//! workspace call from its `authorization: Bearer <jwt>` metadata.

use roost_api::Api;
use roost_auth::Claims;
use tonic::{Request, Status};

use crate::credentials::bearer;
use crate::status::status;

/// The jobs and work-queue services' handle on the application layer.
#[derive(Clone)]
pub struct Workspaces {
    /// The application layer.
    pub(crate) api: Api,
}

impl Workspaces {
    /// Workspace calls through `api`.
    pub fn new(api: Api) -> Self {
        Workspaces { api }
    }

    /// The caller's claims.
    pub(crate) fn caller<T>(&self, req: &Request<T>) -> Result<Claims, Status> {
        self.api.caller(bearer(req)).map_err(status)
    }

    /// Largest JSON document a request may carry.
    pub(crate) fn max_doc(&self) -> usize {
        self.api.settings().max_document_bytes
    }
}
