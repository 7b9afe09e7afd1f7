//! Accounts and plans of publish quotas (off unless configured): the operator's calls. Claims
//! are `queues::claim`; charging is the node's (`roost_node::quota`).

use roost_state::command as cmd;
use roost_state::{Account, Command, Plan, PlanLimits, Query, QueryResult, Response, META_GROUP};
use subtle::ConstantTimeEq;

use crate::keys::digest;
use crate::{Api, Error, ErrorCode};

/// A new account's key, shown this once.
#[derive(Clone, Debug)]
pub struct AccountKey {
    /// The account.
    pub account: Account,
    /// The key.
    pub key: String,
}

impl Api {
    /// The plans' monthly limits; refused when quotas are off.
    pub fn plan_limits(&self) -> Result<PlanLimits, Error> {
        self.node().config().quotas.map(|q| q.plans).ok_or_else(|| {
            Error::new(
                ErrorCode::QuotasDisabled,
                "quotas are not configured on this cluster",
                "Set [quotas] in the server configuration to use accounts and plans.",
            )
        })
    }

    /// Checks the operator key of a call about accounts, which need quotas on. The key first:
    /// a caller without it learns nothing, not even whether quotas are on.
    pub fn accounts_operator(&self, key: Option<&str>) -> Result<(), Error> {
        self.operator(key)?;
        self.plan_limits().map(|_| ())
    }

    /// Checks the operator key a request presented (compared in constant time).
    pub fn operator(&self, key: Option<&str>) -> Result<(), Error> {
        let key = key.map(str::trim).filter(|k| !k.is_empty()).ok_or_else(|| {
            Error::new(
                ErrorCode::MissingApiKey,
                "missing Authorization: Bearer <operator key>",
                "Send the operator key from the server configuration as 'Authorization: Bearer <key>'.",
            )
        })?;
        let presented = digest(key.as_bytes());
        let ok = self
            .settings()
            .operator_key_digest
            .is_some_and(|d| bool::from(d.ct_eq(&presented)));
        if ok {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::InvalidOperatorKey,
                "invalid operator key",
                "Send the operator key from the server configuration as 'Authorization: Bearer <key>'.",
            ))
        }
    }

    /// Creates an account on `plan` (default free).
    pub async fn create_account(
        &self,
        operator_key: Option<&str>,
        plan: Option<&str>,
    ) -> Result<Account, Error> {
        self.accounts_operator(operator_key)?;
        let plan = parse_plan(plan.unwrap_or("free"))?;
        let id = format!("acct_{:016x}", self.random());
        self.meta_write(Command::CreateAccount(cmd::CreateAccount { id, plan }))
            .await
    }

    /// An account.
    pub async fn get_account(
        &self,
        operator_key: Option<&str>,
        id: &str,
    ) -> Result<Account, Error> {
        self.accounts_operator(operator_key)?;
        let query = Query::Account { id: id.to_owned() };
        match self.node().read(META_GROUP, query).await? {
            QueryResult::Account(Some(a)) => Ok(a),
            QueryResult::Account(None) => Err(roost_state::CommandError::AccountNotFound.into()),
            other => Err(Error::unexpected(&other)),
        }
    }

    /// Mints a key for account `id`.
    pub async fn mint_account_key(
        &self,
        operator_key: Option<&str>,
        id: &str,
    ) -> Result<AccountKey, Error> {
        self.accounts_operator(operator_key)?;
        let key = self.mint_key("ak_");
        let command = Command::AddAccountKey(cmd::AddAccountKey {
            account: id.to_owned(),
            key_digest: digest(key.as_bytes()),
        });
        let account = self.meta_write(command).await?;
        Ok(AccountKey { account, key })
    }

    /// Moves account `id` to `plan`; publishes held back by the old limit are then drained
    /// into their queues.
    pub async fn set_plan(
        &self,
        operator_key: Option<&str>,
        id: &str,
        plan: Option<&str>,
    ) -> Result<Account, Error> {
        self.accounts_operator(operator_key)?;
        let raw = plan.ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidPlan,
                "plan is required",
                "Send {\"plan\":\"pro\"}.",
            )
        })?;
        let plan = parse_plan(raw)?;
        let account = self
            .meta_write(Command::SetPlan(cmd::SetPlan {
                account: id.to_owned(),
                plan,
            }))
            .await?;
        if account.upgrades > account.drained {
            self.node().drain_held_soon();
        }
        Ok(account)
    }

    /// Applies an account command in the metadata group.
    async fn meta_write(&self, command: Command) -> Result<Account, Error> {
        match self.node().write(META_GROUP, command).await? {
            Response::AccountState { account } => Ok(account),
            Response::Refused(e) => Err(e.into()),
            other => Err(Error::unexpected(&other)),
        }
    }
}

/// A plan by name.
fn parse_plan(raw: &str) -> Result<Plan, Error> {
    Plan::parse(raw).ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidPlan,
            format!("unknown plan {raw:?}"),
            "Use one of: free, pro, unlimited.",
        )
    })
}
