//! Workspace tokens: JWTs naming a subject, a workspace and teams, signed with HS256 (a shared
//! secret) or RS256 (the operator's key pair; nodes only need the public key). The HTTP and gRPC
//! edges check them the same way through [`Verifier::caller`].

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// What a workspace token says.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// Who the token was issued to.
    pub sub: String,
    /// The workspace whose jobs, work queues and tasks it reaches.
    pub workspace: String,
    /// Teams whose work queues it reaches; empty means every team of the workspace.
    #[serde(default)]
    pub teams: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Not before, seconds since the epoch (checked when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

impl Claims {
    /// Whether the token may act on a work queue of `team`: a token naming teams reaches only
    /// those teams' queues; one naming none is workspace-wide.
    pub fn reaches_team(&self, team: &str) -> bool {
        self.teams.is_empty() || self.teams.iter().any(|t| t == team)
    }
}

/// Clock difference forgiven on `exp` and `nbf`, in seconds: nodes and minting hosts run NTP,
/// and a larger window (the library's default is 60 s) keeps expired tokens working longer.
const LEEWAY_SECS: u64 = 5;

/// The rules every token is checked by: `alg`, `exp` required, `nbf` honoured when present.
fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = LEEWAY_SECS;
    v.validate_nbf = true;
    v
}

/// A stable reason for a refused token, for the caller: the library's own messages name its
/// internals (base64 and JSON errors, key types), which callers cannot act on.
fn reason(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => "token expired",
        K::ImmatureSignature => "token not valid yet (nbf)",
        K::InvalidSignature => "token signature does not verify",
        K::InvalidAlgorithm | K::MissingAlgorithm | K::InvalidAlgorithmName => {
            "token algorithm not accepted"
        }
        K::MissingRequiredClaim(_) => "token lacks a required claim (exp)",
        _ => "token is malformed",
    }
}

/// How tokens are checked.
#[derive(Clone)]
pub struct Verifier {
    /// The key checking signatures.
    key: DecodingKey,
    /// Algorithm and expiry rules.
    validation: Validation,
}

/// A token configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid token key: {0}")]
pub struct KeyError(
    /// What the JWT library said about the key.
    #[from]
    jsonwebtoken::errors::Error,
);

impl Verifier {
    /// Checks HS256 tokens signed with `secret`.
    pub fn hs256(secret: &[u8]) -> Self {
        Verifier {
            key: DecodingKey::from_secret(secret),
            validation: validation(Algorithm::HS256),
        }
    }

    /// Checks RS256 tokens against a PEM public key.
    pub fn rs256(public_pem: &[u8]) -> Result<Self, KeyError> {
        Ok(Verifier {
            key: DecodingKey::from_rsa_pem(public_pem)?,
            validation: validation(Algorithm::RS256),
        })
    }

    fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map(|d| d.claims)
    }

    /// The claims of a bearer `token` if it is signed, unexpired and names a usable workspace.
    pub fn caller(&self, token: &str) -> Result<Claims, Rejected> {
        let claims = self
            .verify(token)
            .map_err(|e| Rejected(format!("token rejected: {}", reason(&e))))?;
        if claims.workspace.is_empty() || claims.workspace.len() > 128 {
            return Err(Rejected("token names no usable workspace".into()));
        }
        Ok(claims)
    }
}

/// Why a token was not accepted (the edges answer it as `invalid_token`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(
    /// Why, for the caller.
    pub String,
);

/// Signs an HS256 token for `claims` with `secret`.
pub fn mint_hs256(secret: &[u8], claims: &Claims) -> Result<String, KeyError> {
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )?)
}

/// Signs an RS256 token for `claims` with a PEM private key.
pub fn mint_rs256(private_pem: &[u8], claims: &Claims) -> Result<String, KeyError> {
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        claims,
        &EncodingKey::from_rsa_pem(private_pem)?,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "t".into(),
            workspace: "ws".into(),
            teams: vec!["eng".into()],
            exp,
            nbf: None,
        }
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    #[test]
    fn teams_scope_a_token_and_none_means_every_team() {
        let eng = claims(FAR);
        assert!(eng.reaches_team("eng"));
        assert!(!eng.reaches_team("ops"));
        assert!(!eng.reaches_team("Eng"));
        let all = Claims {
            teams: vec![],
            ..claims(FAR)
        };
        assert!(all.reaches_team("ops"));
    }

    #[test]
    fn leeway_is_seconds_and_nbf_is_honoured() -> Result<(), KeyError> {
        let v = Verifier::hs256(b"secret-one");
        // Expired 30 s ago: within the library's default 60 s leeway, outside ours.
        let stale = mint_hs256(b"secret-one", &claims(now() - 30))?;
        let refused = v.caller(&stale).expect_err("expired");
        assert_eq!(refused.0, "token rejected: token expired");
        let early = mint_hs256(
            b"secret-one",
            &Claims {
                nbf: Some(now() + 600),
                ..claims(FAR)
            },
        )?;
        assert_eq!(
            v.caller(&early).expect_err("nbf").0,
            "token rejected: token not valid yet (nbf)"
        );
        let started = mint_hs256(
            b"secret-one",
            &Claims {
                nbf: Some(now() - 1),
                ..claims(FAR)
            },
        )?;
        assert!(v.caller(&started).is_ok());
        // Library internals stay out of the answer.
        for junk in ["not-a-jwt", "a.b.c"] {
            let why = v.caller(junk).expect_err(junk).0;
            assert_eq!(why, "token rejected: token is malformed", "{junk}");
        }
        let unsigned = "eyJhbGciOiJIUzI1NiJ9.e30.x";
        let why = v.caller(unsigned).expect_err("bad signature").0;
        assert_eq!(why, "token rejected: token signature does not verify");
        Ok(())
    }

    const FAR: u64 = 4_000_000_000;

    #[test]
    fn hs256_tokens_round_trip_and_other_secrets_or_expiry_fail() -> Result<(), KeyError> {
        let token = mint_hs256(b"secret-one", &claims(FAR))?;
        let ok = Verifier::hs256(b"secret-one")
            .verify(&token)
            .map_err(KeyError)?;
        assert_eq!((ok.workspace.as_str(), ok.teams.len()), ("ws", 1));
        assert!(Verifier::hs256(b"secret-two").verify(&token).is_err());
        let expired = mint_hs256(b"secret-one", &claims(1))?;
        assert!(Verifier::hs256(b"secret-one").verify(&expired).is_err());
        Ok(())
    }

    #[test]
    fn rs256_tokens_are_checked_with_the_public_key_only() -> Result<(), KeyError> {
        // A key pair made for this test only.
        let private = include_bytes!("testdata/rs256.key");
        let public = include_bytes!("testdata/rs256.pub");
        let token = mint_rs256(private, &claims(FAR))?;
        assert_eq!(
            Verifier::rs256(public)?
                .verify(&token)
                .map_err(KeyError)?
                .sub,
            "t"
        );
        // An HS256 token signed with the public key as a secret must not pass (alg confusion).
        let forged = mint_hs256(public, &claims(FAR))?;
        assert!(Verifier::rs256(public)?.verify(&forged).is_err());
        Ok(())
    }
}
