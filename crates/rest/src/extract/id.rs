//! Ids in a request: the one parser for every id type, in a path (where a malformed id names
//! nothing) or as an argument (where it is invalid input).

use std::str::FromStr;

use accountd_domain::{FieldError, ValidationErrors};

use crate::problem::ApiError;

/// A resource id from the request path, of any id type (`AccountId`, `UserId`, …). Ids are
/// opaque to clients (SPEC §1): one that is not well formed names nothing, so it answers 404
/// like a well-formed id that names nothing. The field is never shown, so none is named.
pub(crate) fn path_id<T: FromStr<Err = FieldError>>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

/// An id given as an argument (a query parameter or a body field such as `parent_id`), of
/// any id type: one that is not well formed is invalid input, 422 naming `field`.
pub(crate) fn argument_id<T: FromStr<Err = FieldError>>(raw: &str, field: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|mut e: FieldError| {
        e.field = field.to_owned();
        ApiError::invalid(&ValidationErrors::from(e))
    })
}

#[cfg(test)]
mod tests {
    use accountd_domain::{AccountId, UserId};
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn a_malformed_path_id_names_nothing() {
        let error = path_id::<AccountId>("not-an-id").expect_err("malformed");
        assert_eq!(error.status(), StatusCode::NOT_FOUND);
        let id = AccountId::from_uuid(uuid::Uuid::now_v7());
        assert_eq!(path_id::<AccountId>(&id.to_string()).expect("well formed"), id);
    }

    #[test]
    fn a_malformed_argument_id_is_invalid_input_naming_the_field() {
        let error = argument_id::<UserId>("nope", "user_id").expect_err("malformed");
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let blank = argument_id::<UserId>(" ", "parent_id").expect_err("blank");
        assert_eq!(blank.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
