//! The request-id policy of both wire protocols: a client's `x-request-id` is kept only when
//! the domain accepts it ([`RequestInfo::is_acceptable_request_id`]); any other value is
//! removed before tower-http's `SetRequestIdLayer`, which then generates one. The gRPC
//! server (wired in the app) uses the same function, so REST and gRPC agree.

use accountd_domain::RequestInfo;
use axum::http::Request;

use crate::REQUEST_ID;

/// Drops an `x-request-id` header the domain would not keep (too long, empty, or with
/// characters outside `[A-Za-z0-9._:-]`), so the next layer generates a fresh id and logs,
/// the response header and the audit record all carry that one. Meant for
/// `tower::util::MapRequestLayer`, outside `SetRequestIdLayer`.
pub fn drop_unacceptable_request_id<B>(mut request: Request<B>) -> Request<B> {
    let acceptable = request
        .headers()
        .get_all(REQUEST_ID)
        .iter()
        .map(|value| value.to_str().is_ok_and(RequestInfo::is_acceptable_request_id))
        .collect::<Vec<_>>();
    // Several values are ambiguous: which one would the audit record carry? Drop them all.
    if !acceptable.is_empty() && (acceptable.len() > 1 || !acceptable[0]) {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(values: &[&str]) -> Vec<String> {
        let mut builder = Request::builder();
        for value in values {
            builder = builder.header(REQUEST_ID, *value);
        }
        let request = drop_unacceptable_request_id(builder.body(()).expect("request"));
        request.headers().get_all(REQUEST_ID).iter().map(|v| v.to_str().expect("ascii").to_owned()).collect()
    }

    #[test]
    fn an_acceptable_request_id_is_kept_and_others_are_dropped() {
        assert_eq!(after(&["trace-me.1:a_b"]), ["trace-me.1:a_b"]);
        assert!(after(&[]).is_empty());
        assert!(after(&["\"quoted\""]).is_empty());
        assert!(after(&[&"x".repeat(5000)]).is_empty());
        assert!(after(&["a", "b"]).is_empty(), "two ids are ambiguous");
    }
}
