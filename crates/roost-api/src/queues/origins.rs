//! A queue's allowed browser origins: checked, set at create, changed later. The CORS answers
//! themselves are the HTTP edge's.

use roost_state::command as cmd;
use std::collections::BTreeSet;

use roost_state::{Command, Origins, Query, QueryResult, Response};

use super::{OriginsField, QueueRef};
use crate::{Api, Error, ErrorCode};

use crate::input::MAX_ORIGINS;

/// The checked set `field` names.
pub(super) fn checked(field: OriginsField) -> Result<Origins, Error> {
    match field {
        OriginsField::One(s) if s.trim() == "*" => Ok(Origins::Any),
        OriginsField::One(s) => origin_set(s.split(',').map(str::to_owned).collect()),
        OriginsField::Many(list) if list.iter().any(|o| o == "*") => Ok(Origins::Any),
        OriginsField::Many(list) => origin_set(list),
    }
}

/// Checks one origin: `scheme://host[:port]`, nothing after.
pub fn check_origin(raw: &str) -> Result<String, Error> {
    let o = raw.trim();
    let bad = || {
        Error::new(
            ErrorCode::InvalidOrigin,
            format!("{o:?} is not an origin"),
            "Give origins as scheme://host[:port], e.g. https://example.com, without a path.",
        )
    };
    let (scheme, rest) = o.split_once("://").ok_or_else(bad)?;
    let ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && !rest.is_empty()
        && o.len() <= 255
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if ok {
        Ok(o.to_owned())
    } else {
        Err(bad())
    }
}

/// Validates a list of origins (no `*`) into a set.
pub fn origin_set(list: Vec<String>) -> Result<Origins, Error> {
    // The request's entries are counted, not the distinct origins: the bound is on input.
    if list.len() > MAX_ORIGINS {
        return Err(Error::new(
            ErrorCode::TooManyOriginsInRequest,
            format!("at most {MAX_ORIGINS} origins"),
            "Allow fewer origins, or create the queue with allowed_origins=\"*\".",
        ));
    }
    let set = list
        .iter()
        .filter(|o| !o.trim().is_empty())
        .map(|o| check_origin(o))
        .collect::<Result<BTreeSet<_>, _>>()?;
    Ok(if set.is_empty() {
        Origins::None
    } else {
        Origins::List(set)
    })
}

impl Api {
    /// Allows `add` and stops allowing `remove`; answers the queue's set. The wildcard can
    /// only be set at create.
    pub async fn change_origins(
        &self,
        q: &QueueRef,
        add: &[String],
        remove: &[String],
    ) -> Result<Origins, Error> {
        if add.iter().any(|o| o.trim() == "*") {
            return Err(Error::new(
                ErrorCode::WildcardNotAllowed,
                "the * wildcard cannot be set from this endpoint",
                "Re-create the queue with allowed_origins=\"*\" to allow every origin.",
            ));
        }
        let names = |list: &[String]| -> Result<Vec<String>, Error> {
            list.iter().map(|o| check_origin(o)).collect()
        };
        let command = self
            .settings()
            .queue_caps
            .limit(Command::SetOrigins(cmd::SetOrigins {
                queue: q.id.clone(),
                auth: q.auth,
                add: names(add)?,
                remove: names(remove)?,
            }));
        match self.q_write(&q.id, command).await? {
            Response::Origins { origins } => Ok(origins),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// The origins queue `raw` allows, read without its key: browsers ask before they send
    /// one (CORS preflights). An unknown queue is not found.
    pub async fn queue_origins(&self, raw: &str) -> Result<Origins, Error> {
        let id = self.queue_id(raw)?;
        match self
            .q_read(&id, Query::Origins { queue: id.clone() })
            .await?
        {
            QueryResult::Origins(Some(origins)) => Ok(origins),
            QueryResult::Origins(None) => Err(Error::queue_not_found()),
            other => Err(Error::unexpected(&other)),
        }
    }
}
