//! Workspace tokens: which key checks them on this node, and `roost token create`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use rand::RngCore;
use roost_auth::{self as jwt, Claims, Verifier};

use crate::config::{ServeArgs, ServerConfig};
use crate::secrets;

/// Options of `roost token create`.
#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    /// The workspace the token reaches.
    #[arg(long)]
    pub workspace: String,
    /// A team whose work queues the token reaches (repeatable); none: every team.
    #[arg(long = "team")]
    pub teams: Vec<String>,
    /// Who the token is for.
    #[arg(long, default_value = "cli")]
    pub subject: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 30 * 24 * 3600)]
    pub ttl_secs: u64,
    /// The node's configuration (to find its signing key).
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// How this node signs and checks tokens.
pub enum Keys {
    /// A shared HS256 secret (configured, or generated into the data dir for one node).
    Secret(Vec<u8>),
    /// RS256: the public key checks; the private key, when configured, signs.
    Rsa {
        /// PEM public key.
        public: Vec<u8>,
        /// PEM private key, if this machine may mint.
        private: Option<Vec<u8>>,
    },
}

/// Where a one-node cluster keeps the token for workspace `default` it mints at every start.
pub const DEFAULT_TOKEN_FILE: &str = "default-workspace.token";

fn secret_file(data_dir: &Path) -> PathBuf {
    data_dir.join("jwt.secret")
}

impl Keys {
    /// The keys `config` names; for a one-node cluster with none configured, a secret kept in
    /// the data dir (created on first use). A multi-node cluster must configure a shared key.
    pub fn load(config: &ServerConfig) -> anyhow::Result<Option<Keys>> {
        let auth = &config.auth;
        if let Some(secret) = &auth.jwt_secret {
            return Ok(Some(Keys::Secret(secret.as_bytes().to_vec())));
        }
        if let Some(public) = &auth.jwt_public_key_file {
            let read =
                |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
            return Ok(Some(Keys::Rsa {
                public: read(public)?,
                private: auth.jwt_private_key_file.as_deref().map(read).transpose()?,
            }));
        }
        if config.members.len() > 1 {
            return Ok(None);
        }
        let secret = secrets::read_or_create(&secret_file(&config.data_dir), || {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            hex::encode(bytes)
        })?;
        Ok(Some(Keys::Secret(secret.into_bytes())))
    }

    /// The verifier for the HTTP edge.
    pub fn verifier(&self) -> anyhow::Result<Verifier> {
        Ok(match self {
            Keys::Secret(s) => Verifier::hs256(s),
            Keys::Rsa { public, .. } => Verifier::rs256(public)?,
        })
    }

    /// Signs a token.
    pub fn mint(&self, claims: &Claims) -> anyhow::Result<String> {
        Ok(match self {
            Keys::Secret(s) => jwt::mint_hs256(s, claims)?,
            Keys::Rsa {
                private: Some(p), ..
            } => jwt::mint_rs256(p, claims)?,
            Keys::Rsa { private: None, .. } => {
                bail!("auth.jwt_private_key_file is needed to mint RS256 tokens")
            }
        })
    }
}

/// Claims for `workspace` valid for `ttl_secs`.
pub fn claims(subject: &str, workspace: &str, teams: Vec<String>, ttl_secs: u64) -> Claims {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Claims {
        sub: subject.to_owned(),
        workspace: workspace.to_owned(),
        teams,
        exp: now + ttl_secs,
        nbf: None,
    }
}

/// `roost token create`: prints a token.
pub fn create(args: TokenArgs) -> anyhow::Result<()> {
    let config = ServerConfig::load(&args.serve)?;
    let keys = Keys::load(&config)?
        .context("no signing key: set auth.jwt_secret (or RS256 key files) in the configuration")?;
    println!(
        "{}",
        keys.mint(&claims(
            &args.subject,
            &args.workspace,
            args.teams,
            args.ttl_secs
        ))?
    );
    Ok(())
}
