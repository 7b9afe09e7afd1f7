//! The limits on lists in requests, which the server checks (`roost_api::input`), and the
//! OpenAPI schemas of the fields whose constraints a derive cannot state alone (a pattern on
//! each item of a list, a choice of shapes).

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};

/// Most consumers registered at create, and most names in one roster change.
pub const MAX_CONSUMERS: usize = 100;

/// Most origins one request names.
pub const MAX_ORIGINS: usize = 100;

/// Most messages in one batch publish (`PublishBatch`'s `max_items` says it again).
pub const MAX_BATCH: usize = 100;

/// Most job types one claim may name.
pub const MAX_CLAIM_TYPES: usize = 100;

/// A consumer id: 1-128 letters, digits, `_`, `-`, `.` or `:` (`roost_state::ids`).
const CONSUMER_ID: &str = "^[A-Za-z0-9_.:-]{1,128}$";

/// An origin as `check_origin` takes it: `scheme://host[:port]`, nothing after.
const ORIGIN: &str = r"[A-Za-z0-9+.-]+://[A-Za-z0-9.:\[\]-]+";

/// A list of consumer ids, at most [`MAX_CONSUMERS`] long.
pub fn consumer_ids() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(CONSUMER_ID)),
        )
        .max_items(Some(MAX_CONSUMERS))
}

/// A list of origins to add or remove (no wildcard).
pub fn origin_list() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(format!("^{ORIGIN}$")))
                .max_length(Some(255)),
        )
        .max_items(Some(MAX_ORIGINS))
}

/// `allowed_origins` at create: `*`, or origins as a comma-separated string or a list (empty
/// entries are skipped, a `*` in the list allows every origin).
pub fn allowed_origins() -> OneOfBuilder {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(format!(r"^(\*|({ORIGIN})?(,({ORIGIN})?)*)$")))
                .examples([serde_json::json!(
                    "https://app.example,https://admin.example"
                )]),
        )
        .item(
            ArrayBuilder::new()
                .items(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(format!(r"^(\*|{ORIGIN})?$")))
                        .max_length(Some(255)),
                )
                .max_items(Some(MAX_ORIGINS)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
}

/// The job types a claim takes: at most [`MAX_CLAIM_TYPES`], each 1-100
/// characters.
pub fn claim_types() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(100)),
        )
        .max_items(Some(MAX_CLAIM_TYPES))
}
