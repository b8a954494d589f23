//! Conversions every service shares between proto fields and domain values: ids (one parser
//! for every id type), timestamps, the empty string proto3 sends for "not given", paging,
//! permission names and the account enums. Conversions of one resource's messages stay in
//! its module, as `From` impls; resource modules import from here, never from one another.

use std::str::FromStr;

use accountd_domain::{AccountStatus, AccountType, FieldError, PageRequest, PermissionSet, ValidationErrors};
use prost_types::Timestamp;
use tonic::Status;

use crate::pb;
use crate::status::to_status;

/// A field naming the resource an RPC acts on (the twin of a REST path id), of any id type
/// (`AccountId`, `UserId`, …). Ids are opaque to clients (SPEC §1): one that is not well
/// formed names nothing, so it answers NOT_FOUND like a well-formed id that names nothing;
/// an empty one is a missing argument (INVALID_ARGUMENT naming `field`).
pub(crate) fn resource_id<T: FromStr<Err = FieldError>>(raw: &str, field: &str) -> Result<T, Status> {
    raw.parse().map_err(|mut e: FieldError| {
        if e.code == "required" {
            e.field = field.to_owned();
            invalid(e)
        } else {
            // The input is not repeated: it may be of any length.
            Status::not_found(format!("no such {}", field.trim_end_matches("_id")))
        }
    })
}

/// An id given as an argument rather than naming the resource (`parent_id`, a filter), of
/// any id type: one that is not well formed is INVALID_ARGUMENT naming `field`, as REST's 422.
pub(crate) fn argument_id<T: FromStr<Err = FieldError>>(raw: &str, field: &str) -> Result<T, Status> {
    raw.parse().map_err(|mut e: FieldError| {
        e.field = field.to_owned();
        invalid(e)
    })
}

/// One rejected field as a status (INVALID_ARGUMENT with its `BadRequest` violation).
pub(crate) fn invalid(e: FieldError) -> Status {
    to_status(ValidationErrors::from(e))
}

/// proto3 sends an absent string as empty; the domain's inputs say absent with `None`.
pub(crate) fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// The page a list RPC asks for (`page_size` unset means the default).
pub(crate) fn page_request(size: Option<i32>, token: &str) -> Result<PageRequest, Status> {
    PageRequest::parse(size.map(i64::from), Some(token)).map_err(to_status)
}

pub(crate) fn timestamp(at: chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 }
}

/// The names of a set of permissions, as repeated strings.
pub(crate) fn permission_names(set: PermissionSet) -> Vec<String> {
    set.names().into_iter().map(str::to_owned).collect()
}

pub(crate) fn proto_type(t: AccountType) -> pb::AccountType {
    match t {
        AccountType::Standard => pb::AccountType::Standard,
        AccountType::Enterprise => pb::AccountType::Enterprise,
        AccountType::AdAccount => pb::AccountType::AdAccount,
        AccountType::BusinessManager => pb::AccountType::BusinessManager,
        AccountType::Agency => pb::AccountType::Agency,
    }
}

pub(crate) fn proto_status(s: AccountStatus) -> pb::AccountStatus {
    match s {
        AccountStatus::Unverified => pb::AccountStatus::Unverified,
        AccountStatus::Pending => pb::AccountStatus::Pending,
        AccountStatus::Verified => pb::AccountStatus::Verified,
        AccountStatus::Suspended => pb::AccountStatus::Suspended,
    }
}

/// The domain's name for a proto `AccountType`; `None` for UNSPECIFIED. An unknown number
/// becomes a name the domain rejects, so the error comes from the one place that owns it.
pub(crate) fn type_name(value: i32) -> Option<String> {
    let name = match pb::AccountType::try_from(value) {
        Ok(pb::AccountType::Unspecified) => return None,
        Ok(pb::AccountType::Standard) => AccountType::Standard.as_str(),
        Ok(pb::AccountType::Enterprise) => AccountType::Enterprise.as_str(),
        Ok(pb::AccountType::AdAccount) => AccountType::AdAccount.as_str(),
        Ok(pb::AccountType::BusinessManager) => AccountType::BusinessManager.as_str(),
        Ok(pb::AccountType::Agency) => AccountType::Agency.as_str(),
        Err(_) => return Some(format!("#{value}")),
    };
    Some(name.to_owned())
}

/// As [`type_name`], for `AccountStatus`.
pub(crate) fn status_name(value: i32) -> Option<String> {
    let name = match pb::AccountStatus::try_from(value) {
        Ok(pb::AccountStatus::Unspecified) => return None,
        Ok(pb::AccountStatus::Unverified) => AccountStatus::Unverified.as_str(),
        Ok(pb::AccountStatus::Pending) => AccountStatus::Pending.as_str(),
        Ok(pb::AccountStatus::Verified) => AccountStatus::Verified.as_str(),
        Ok(pb::AccountStatus::Suspended) => AccountStatus::Suspended.as_str(),
        Err(_) => return Some(format!("#{value}")),
    };
    Some(name.to_owned())
}

#[cfg(test)]
mod tests {
    use accountd_domain::{AccountId, UserId};
    use tonic::Code;

    use super::*;

    #[test]
    fn every_proto_type_maps_to_a_domain_type_and_back() {
        for t in AccountType::ALL {
            let name = type_name(proto_type(*t).into()).expect("specified");
            assert_eq!(AccountType::parse(&name), Ok(*t));
        }
        assert_eq!(type_name(0), None);
        let unknown = type_name(99).expect("a name the domain rejects");
        assert_eq!(AccountType::parse(&unknown).unwrap_err().field, "type");
    }

    #[test]
    fn every_proto_status_maps_to_a_domain_status_and_back() {
        for s in AccountStatus::ALL {
            let name = status_name(proto_status(*s).into()).expect("specified");
            assert_eq!(AccountStatus::parse(&name), Ok(*s));
        }
        let unknown: Result<AccountStatus, FieldError> = AccountStatus::parse(&status_name(42).expect("named"));
        assert_eq!(unknown.unwrap_err().field, "status");
    }

    #[test]
    fn a_malformed_resource_id_names_nothing_and_an_empty_one_is_missing() {
        let malformed = resource_id::<AccountId>("nope", "account_id").expect_err("malformed");
        assert_eq!((malformed.code(), malformed.message()), (Code::NotFound, "no such account"));
        let empty = resource_id::<AccountId>("", "account_id").expect_err("empty");
        assert_eq!(empty.code(), Code::InvalidArgument);
        let id = UserId::from_uuid(uuid::Uuid::now_v7());
        assert_eq!(resource_id::<UserId>(&id.to_string(), "user_id").expect("well formed"), id);
    }

    #[test]
    fn a_malformed_argument_id_is_an_invalid_argument() {
        let error = argument_id::<AccountId>("nope", "parent_id").expect_err("malformed");
        assert_eq!(error.code(), Code::InvalidArgument);
    }
}
