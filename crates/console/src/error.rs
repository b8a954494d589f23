//! How a refusal shows in the console: the domain's [`ErrorKind`] mapped to a status and a
//! page, once. Field errors are not shown here: each form page shows them next to its fields.

use accountd_domain::{ErrorKind, FieldError, HasErrorKind};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use crate::layout;

/// A page that could not be shown, or an action that was refused.
#[derive(Debug)]
pub enum ConsoleError {
    /// Not signed in (or the session's token stopped working): to the sign-in page.
    SignIn,
    /// A status and a sentence for the person.
    Page(StatusCode, String),
}

impl ConsoleError {
    pub fn forbidden(why: &str) -> Self {
        Self::Page(StatusCode::FORBIDDEN, why.to_owned())
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Page(StatusCode::NOT_FOUND, _))
    }

    pub fn not_found() -> Self {
        Self::Page(StatusCode::NOT_FOUND, "there is nothing here, or you may not see it".to_owned())
    }

    /// A refusal from the services. `Invalid` reaching here (instead of a form) names the
    /// fields in the sentence.
    pub fn from_domain<E: HasErrorKind>(error: &E) -> Self {
        let (status, message) = match error.kind() {
            ErrorKind::Invalid(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors.to_string()),
            ErrorKind::NotFound => return Self::not_found(),
            ErrorKind::AlreadyExists => (StatusCode::CONFLICT, error.to_string()),
            ErrorKind::FailedPrecondition => (StatusCode::UNPROCESSABLE_ENTITY, error.to_string()),
            ErrorKind::VersionMismatch => {
                (StatusCode::PRECONDITION_FAILED, "it changed since you loaded the page: reload and retry".to_owned())
            }
            ErrorKind::Conflict => (StatusCode::CONFLICT, "a concurrent change won: retry".to_owned()),
            ErrorKind::Gone => (StatusCode::GONE, error.to_string()),
            ErrorKind::PermissionDenied => {
                (StatusCode::FORBIDDEN, "you do not have the permission for this".to_owned())
            }
            ErrorKind::TwoFactorRequired => (
                StatusCode::FORBIDDEN,
                "this account requires two-factor authentication: enrol a factor under Me first".to_owned(),
            ),
            ErrorKind::Unauthenticated => return Self::SignIn,
            ErrorKind::Throttled { retry_after_secs } => {
                (StatusCode::TOO_MANY_REQUESTS, format!("too many attempts: retry in {retry_after_secs} s"))
            }
            ErrorKind::Unavailable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "the database cannot be reached: retry shortly".to_owned())
            }
            ErrorKind::Internal => {
                tracing::error!(error = %accountd_domain::error_chain(error), "console request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong on our side".to_owned())
            }
        };
        Self::Page(status, message)
    }
}

impl<E: HasErrorKind> From<E> for ConsoleError {
    fn from(error: E) -> Self {
        Self::from_domain(&error)
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn => Redirect::to("/console/sign-in").into_response(),
            Self::Page(status, message) => {
                let body = html! {
                    h1 { (status.canonical_reason().unwrap_or("Error")) }
                    p.error role="alert" { (message) }
                    p { a href="/console/" { "Back to the console" } }
                };
                (status, layout::bare("Error", body)).into_response()
            }
        }
    }
}

/// The field errors of a refusal a form shows, or the refusal as a page when it is not one.
pub fn field_errors<E: HasErrorKind>(error: &E) -> Result<Vec<FieldError>, ConsoleError> {
    match error.kind() {
        ErrorKind::Invalid(errors) => Ok(errors.fields().to_vec()),
        _ => Err(ConsoleError::from_domain(error)),
    }
}

pub async fn not_found() -> ConsoleError {
    ConsoleError::not_found()
}
