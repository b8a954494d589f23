//! Me: who I am, the accounts I can see with my permissions there, and my TOTP factors
//! (enrol with a QR code rendered here as SVG, activate with a code, delete).

use accountd_domain::{FactorId, FieldError, TotpCode, ValidationErrors};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use maud::{Markup, html};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::given;
use crate::ConsoleState;
use crate::error::{ConsoleError, field_errors};
use crate::guard::{Post, Signed};
use crate::layout::{self, account_url, csrf, input, notice, other_errors, when};

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    done: Option<String>,
}

/// A pending enrolment to show: its QR code and secret, once, with the activation form.
struct Setup {
    factor: FactorId,
    secret: String,
    qr_svg: String,
}

/// `GET /console/me`.
pub async fn overview(
    State(state): State<ConsoleState>,
    signed: Signed,
    Query(params): Query<Params>,
) -> Result<Response, ConsoleError> {
    Ok(render(&state, &signed, params.done.as_deref(), None, &[], &[]).await?.into_response())
}

async fn render(
    state: &ConsoleState,
    signed: &Signed,
    done: Option<&str>,
    setup: Option<&Setup>,
    enrol_errors: &[FieldError],
    activate_errors: &[FieldError],
) -> Result<axum::response::Html<String>, ConsoleError> {
    let me = state.services.users.me(&signed.principal).await?;
    let mine = state.services.users.my_permissions(&signed.principal).await?;
    let mfa = state.services.mfa.status(&signed.principal).await?;
    let has_active = mfa.enabled();
    let body = html! {
        h1 { "Me" }
        (notice(done))
        dl.facts {
            dt { "Email" } dd { (me.email.to_string()) }
            dt { "User id" } dd { code { (me.id) } }
            dt { "Root permissions" } dd { @if mine.root_permissions.is_empty() { span.muted { "none" } } @else { (mine.root_permissions.names().join(", ")) } }
        }
        h2 { "My accounts" }
        @if mine.accounts.is_empty() { p.muted { "You are a member of no account." } } @else {
            table {
                thead { tr { th scope="col" { "Account" } th scope="col" { "Type" } th scope="col" { "My permissions" } } }
                tbody { @for (a, held) in &mine.accounts {
                    tr { td { a href=(account_url(a.id)) { (a.name.as_str()) } } td { (a.account_type.as_str()) } td { (held.names().join(", ")) } }
                } }
            }
        }
        h2 { "Two-factor authentication" }
        @if mfa.factors.is_empty() { p.muted { "No factor enrolled." } } @else {
            table {
                thead { tr { th scope="col" { "Factor" } th scope="col" { "Status" } th scope="col" { "Enrolled" } th scope="col" { "Actions" } } }
                tbody { @for f in &mfa.factors {
                    tr {
                        td { "TOTP " code { (f.id) } }
                        td { (f.status.as_str()) }
                        td { (when(f.created_at)) }
                        td {
                            form.inline method="post" action={ "/console/me/mfa/" (f.id) "/delete" } {
                                (csrf(signed))
                                @if f.is_active() {
                                    label for={ "del-code-" (f.id) } { "Current code" }
                                    input #{ "del-code-" (f.id) } type="text" name="code" inputmode="numeric" autocomplete="one-time-code" size="6";
                                }
                                button.danger type="submit" { "Delete" }
                            }
                        }
                    }
                } }
            }
        }
        @if let Some(setup) = setup {
            section.card aria-labelledby="enrol-title" {
                h2 #enrol-title { "Scan with your authenticator app" }
                div.qr { img src={ "data:image/svg+xml;base64," (base64::engine::general_purpose::STANDARD.encode(&setup.qr_svg)) } alt="QR code of the new TOTP factor"; }
                p { "Or type this secret (shown only now): " span.secret #totp-secret { (setup.secret) } }
                (activate_form(signed, Some(setup.factor), activate_errors))
            }
        } @else if mfa.factors.iter().any(|f| !f.is_active()) {
            (activate_form(signed, None, activate_errors))
        }
        form.card method="post" action="/console/me/mfa" {
            h2 { "Enrol a TOTP factor" }
            (csrf(signed))
            @if has_active { (input("enrol-code", "A current code from your active factor", "code", "", enrol_errors, "text")) }
            (other_errors(enrol_errors, &["code"]))
            button type="submit" { "Start enrolment" }
        }
    };
    Ok(layout::page("Me", signed, body))
}

fn activate_form(signed: &Signed, factor: Option<FactorId>, errors: &[FieldError]) -> Markup {
    html! {
        form.card method="post" action="/console/me/mfa/activate" {
            h2 { "Activate the factor" }
            (csrf(signed))
            @if let Some(f) = factor { input type="hidden" name="factor_id" value=(f); }
            (input("activate-code", "The 6-digit code your app shows", "code", "", errors, "text"))
            (other_errors(errors, &["code"]))
            button type="submit" { "Activate" }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    code: Option<String>,
    factor_id: Option<String>,
}

fn code(raw: Option<String>) -> Result<TotpCode, Vec<FieldError>> {
    TotpCode::parse(&raw.unwrap_or_default()).map_err(|e| ValidationErrors::from(e).fields().to_vec())
}

fn optional_code(raw: &Option<String>) -> Result<Option<TotpCode>, Vec<FieldError>> {
    given(raw).map(|c| code(Some(c))).transpose()
}

/// The QR code of `uri` as an SVG document.
pub fn qr_svg(uri: &str) -> Result<String, ConsoleError> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|_| {
        ConsoleError::Page(StatusCode::INTERNAL_SERVER_ERROR, "the QR code could not be made".to_owned())
    })?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build())
}

/// `POST /console/me/mfa`: starts an enrolment; the answer shows its QR code and secret once.
pub async fn enroll(State(state): State<ConsoleState>, post: Post<CodeForm>) -> Result<Response, ConsoleError> {
    let Post { signed, form } = post;
    let errors = match optional_code(&form.code) {
        Err(errors) => errors,
        Ok(code) => match state.services.mfa.enroll_totp(&signed.principal, code, None).await {
            Ok(created) => {
                let enrolment = created.value;
                let Some(secret) = enrolment.secret else {
                    return Ok(Redirect::to("/console/me").into_response());
                };
                let setup = Setup {
                    factor: enrolment.resource.id,
                    secret: secret.secret.expose_secret().to_owned(),
                    qr_svg: qr_svg(secret.otpauth_uri.expose_secret())?,
                };
                let page = render(&state, &signed, None, Some(&setup), &[], &[]).await?;
                return Ok((StatusCode::CREATED, page).into_response());
            }
            Err(e) => field_errors(&e)?,
        },
    };
    let page = render(&state, &signed, None, None, &errors, &[]).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// `POST /console/me/mfa/activate`.
pub async fn activate(State(state): State<ConsoleState>, post: Post<CodeForm>) -> Result<Response, ConsoleError> {
    let Post { signed, form } = post;
    let factor = match given(&form.factor_id).map(|f| FactorId::parse(&f, "factor_id")).transpose() {
        Ok(f) => f,
        Err(e) => return Err(ConsoleError::from_domain(&ValidationErrors::from(e))),
    };
    let errors = match code(form.code) {
        Err(errors) => errors,
        Ok(code) => match state.services.mfa.activate_totp(&signed.principal, factor, code).await {
            Ok(_) => return Ok(Redirect::to("/console/me?done=activated").into_response()),
            Err(e) => field_errors(&e)?,
        },
    };
    let page = render(&state, &signed, None, None, &[], &errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// `POST /console/me/mfa/{factor}/delete`: an active factor needs a current code from it.
pub async fn delete_factor(
    State(state): State<ConsoleState>,
    Path(factor): Path<String>,
    post: Post<CodeForm>,
) -> Result<Response, ConsoleError> {
    let Post { signed, form } = post;
    let factor = FactorId::parse(&factor, "factor_id").map_err(|_| ConsoleError::not_found())?;
    let code = given(&form.code)
        .map(|c| TotpCode::parse(&c))
        .transpose()
        .map_err(|e| ConsoleError::from_domain(&ValidationErrors::from(e)))?;
    state.services.mfa.delete_totp(&signed.principal, factor, code).await?;
    Ok(Redirect::to("/console/me?done=deleted").into_response())
}
