//! `accountd.v1.AuditService`: the audit-log listing.

use accountd_domain::{AuditEvent, AuditQueryInput, AuditValue, Services, Snapshot};
use prost_types::value::Kind;
use tonic::{Request, Response, Status};

use crate::caller::caller;
use crate::convert::{non_empty, resource_id, timestamp};
use crate::pb;
use crate::status::to_status;

/// The tonic service over [`accountd_domain::AuditService`].
#[derive(Debug, Clone)]
pub struct AuditApi {
    services: Services,
}

impl AuditApi {
    pub fn new(services: Services) -> Self {
        Self { services }
    }
}

fn value(v: &AuditValue) -> prost_types::Value {
    let kind = match v {
        AuditValue::Null => Kind::NullValue(0),
        AuditValue::Bool(b) => Kind::BoolValue(*b),
        // Audit integers are versions and counts, far below 2^53.
        AuditValue::Int(n) => Kind::NumberValue(*n as f64),
        AuditValue::Text(s) => Kind::StringValue(s.clone()),
        AuditValue::List(items) => {
            Kind::ListValue(prost_types::ListValue { values: items.iter().map(value).collect() })
        }
    };
    prost_types::Value { kind: Some(kind) }
}

fn snapshot(s: &Option<Snapshot>) -> Option<prost_types::Struct> {
    s.as_ref().map(|s| prost_types::Struct { fields: s.fields().iter().map(|(k, v)| (k.clone(), value(v))).collect() })
}

impl From<&AuditEvent> for pb::AuditEvent {
    fn from(e: &AuditEvent) -> Self {
        Self {
            id: e.id.to_string(),
            account_id: e.account_id.map(|a| a.to_string()).unwrap_or_default(),
            actor: Some(pb::AuditActor {
                r#type: e.actor.kind.as_str().to_owned(),
                id: e.actor.id.clone().unwrap_or_default(),
                email: e.actor.email.clone().unwrap_or_default(),
            }),
            action_type: e.action.clone(),
            action_result: e.outcome.as_str().to_owned(),
            resource_type: e.resource_type.clone(),
            resource_id: e.resource_id.clone(),
            before: snapshot(&e.changes.before),
            after: snapshot(&e.changes.after),
            request_ip: e.request.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            user_agent: e.request.user_agent.clone().unwrap_or_default(),
            request_id: e.request.request_id.clone().unwrap_or_default(),
            when: Some(timestamp(e.occurred_at)),
        }
    }
}

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for AuditApi {
    async fn list_audit_logs(
        &self,
        request: Request<pb::ListAuditLogsRequest>,
    ) -> Result<Response<pb::ListAuditLogsResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let account = resource_id(&r.account_id, "account_id")?;
        let query = AuditQueryInput {
            since: non_empty(r.since),
            before: non_empty(r.before),
            action_type: non_empty(r.action_type),
            actor_id: non_empty(r.actor_id),
            resource_type: non_empty(r.resource_type),
            resource_id: non_empty(r.resource_id),
            direction: non_empty(r.direction),
            page_size: r.page_size.map(i64::from),
            cursor: non_empty(r.cursor),
        }
        .validate(account)
        .map_err(to_status)?;
        let page = self.services.audit.list(&caller, query).await.map_err(to_status)?;
        Ok(Response::new(pb::ListAuditLogsResponse {
            next_cursor: page.next_page_token(),
            events: page.items.iter().map(pb::AuditEvent::from).collect(),
        }))
    }
}
