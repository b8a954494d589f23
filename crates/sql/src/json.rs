//! The JSON form of audit changes: `{"before": {...} | null, "after": {...} | null}`.

use std::collections::BTreeMap;

use accountd_domain::{AuditValue, Changes, Snapshot};
use anyhow::{anyhow, bail};
use serde_json::{Map, Value};

pub fn changes_to_json(changes: &Changes) -> Value {
    let side = |s: &Option<Snapshot>| match s {
        None => Value::Null,
        Some(s) => Value::Object(s.fields().iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect()),
    };
    let mut object = Map::new();
    object.insert("before".into(), side(&changes.before));
    object.insert("after".into(), side(&changes.after));
    Value::Object(object)
}

fn value_to_json(value: &AuditValue) -> Value {
    match value {
        AuditValue::Null => Value::Null,
        AuditValue::Bool(b) => Value::Bool(*b),
        AuditValue::Int(n) => Value::from(*n),
        AuditValue::Text(s) => Value::String(s.clone()),
        AuditValue::List(items) => Value::Array(items.iter().map(value_to_json).collect()),
    }
}

pub fn changes_from_json(value: Value) -> anyhow::Result<Changes> {
    let Value::Object(mut object) = value else { bail!("stored audit changes are not an object") };
    let mut side = |key: &str| -> anyhow::Result<Option<Snapshot>> {
        match object.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(fields)) => {
                let fields = fields
                    .into_iter()
                    .map(|(k, v)| value_from_json(v).map(|v| (k, v)))
                    .collect::<anyhow::Result<BTreeMap<_, _>>>()?;
                Ok(Some(Snapshot::from_fields(fields)))
            }
            Some(other) => bail!("stored audit snapshot is not an object: {other}"),
        }
    };
    Ok(Changes { before: side("before")?, after: side("after")? })
}

fn value_from_json(value: Value) -> anyhow::Result<AuditValue> {
    Ok(match value {
        Value::Null => AuditValue::Null,
        Value::Bool(b) => AuditValue::Bool(b),
        Value::Number(n) => {
            AuditValue::Int(n.as_i64().ok_or_else(|| anyhow!("stored audit number {n} is not an integer"))?)
        }
        Value::String(s) => AuditValue::Text(s),
        Value::Array(items) => AuditValue::List(items.into_iter().map(value_from_json).collect::<anyhow::Result<_>>()?),
        Value::Object(_) => bail!("stored audit value is a nested object"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_survive_the_json_round_trip() {
        let changes = Changes::updated(
            Snapshot::default().with("a", AuditValue::List(vec![AuditValue::Int(1), "x".into()])).with("b", true),
            Snapshot::default().with("a", AuditValue::Null).with("b", false),
        );
        assert_eq!(changes_from_json(changes_to_json(&changes)).unwrap(), changes);
        let created = Changes::created(Snapshot::default().with("name", "n"));
        assert_eq!(changes_from_json(changes_to_json(&created)).unwrap(), created);
    }

    #[test]
    fn a_nested_object_is_refused() {
        let value = serde_json::json!({"before": {"x": {"y": 1}}, "after": null});
        assert!(changes_from_json(value).unwrap_err().to_string().contains("nested"));
    }
}
