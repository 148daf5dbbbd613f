//! API errors with the real server's status codes, reasons and messages, sent as `Status`.

use serde_json::{json, Value};

use crate::resources::Resource;

/// An API error.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `reason`.
    pub reason: &'static str,
    /// `message`.
    pub message: String,
    /// `details`, when the error is about one object.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String, details: Option<Value>) -> Self {
        ApiError {
            code,
            reason,
            message,
            details,
        }
    }

    /// The `Status` body.
    pub fn body(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized".into(), None)
    }

    /// 404 for an object.
    pub fn not_found(r: &Resource, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", r.qualified()),
            Some(details(r, name)),
        )
    }

    /// 404 for a path that serves nothing.
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
            None,
        )
    }

    /// 409 for a name in use.
    pub fn already_exists(r: &Resource, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", r.qualified()),
            Some(details(r, name)),
        )
    }

    /// 409 for a stale `resourceVersion`.
    pub fn conflict(r: &Resource, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                r.qualified()
            ),
            Some(details(r, name)),
        )
    }

    /// 409 for server-side apply conflicts, worded as the real server words them:
    /// `conflict with "m" using v1: .data.a`, or per manager with a list of fields.
    pub fn apply_conflict(r: &Resource, name: &str, conflicts: &[(String, String)]) -> Self {
        let using = r.api_version();
        let text = match conflicts {
            [(m, f)] => format!("conflict with \"{m}\" using {using}: {f}"),
            _ => {
                let mut managers: Vec<&String> = conflicts.iter().map(|(m, _)| m).collect();
                managers.sort();
                managers.dedup();
                let mut lines = Vec::new();
                for m in managers {
                    lines.push(format!("conflicts with \"{m}\" using {using}:"));
                    for (_, f) in conflicts.iter().filter(|(cm, _)| cm == m) {
                        lines.push(format!("- {f}"));
                    }
                }
                lines.join("\n")
            }
        };
        let mut d = details(r, name);
        d["causes"] = Value::Array(
            conflicts
                .iter()
                .map(|(m, f)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{m}\" using {using}"), "field": f}))
                .collect(),
        );
        Self::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {} conflict{}: {text}",
                conflicts.len(),
                if conflicts.len() == 1 { "" } else { "s" },
            ),
            Some(d),
        )
    }

    /// 422.
    pub fn invalid(r: &Resource, name: &str, field: &str, message: &str) -> Self {
        let mut d = details(r, name);
        d["causes"] = json!([{"reason": "FieldValueRequired", "message": message, "field": field}]);
        Self::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {field}: {message}", r.kind),
            Some(d),
        )
    }

    /// 429 for an eviction a PodDisruptionBudget does not allow now: the cause names the
    /// budget; `retry_after` seconds are suggested when known (0: none).
    pub fn too_many_requests(message: &str, retry_after: u64, cause: String) -> Self {
        let mut d = json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]});
        if retry_after > 0 {
            d["retryAfterSeconds"] = json!(retry_after);
        }
        Self::new(429, "TooManyRequests", message.to_string(), Some(d))
    }

    /// 403 for an object whose state forbids the request (`why` says which).
    pub fn forbidden_object(qualified: &str, group: &str, name: &str, why: &str) -> Self {
        let kind = qualified.split('.').next().unwrap_or(qualified);
        Self::new(
            403,
            "Forbidden",
            format!("{qualified} \"{name}\" is forbidden: {why}"),
            Some(json!({"name": name, "group": group, "kind": kind})),
        )
    }

    /// 500 with a message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message.into(), None)
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into(), None)
    }

    /// 405.
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".into(),
            None,
        )
    }

    /// 415.
    pub fn unsupported_media_type(ct: &str) -> Self {
        Self::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {ct:?})"), None)
    }

    /// 403 for a resource request.
    pub fn forbidden(user: &str, attrs: &crate::rbac::Attributes) -> Self {
        let what = match &attrs.resource {
            Some(res) => {
                let group = attrs.group.as_str();
                let full = match &attrs.subresource {
                    Some(s) => format!("{res}/{s}"),
                    None => res.clone(),
                };
                let subject = match (&attrs.name, group) {
                    (Some(n), "") => format!("{res} \"{n}\""),
                    (Some(n), g) => format!("{res}.{g} \"{n}\""),
                    (None, "") => res.clone(),
                    (None, g) => format!("{res}.{g}"),
                };
                let scope = match &attrs.namespace {
                    Some(ns) => format!("in the namespace \"{ns}\""),
                    None => "at the cluster scope".to_string(),
                };
                (
                    subject,
                    format!(
                        "User \"{user}\" cannot {} resource \"{full}\" in API group \"{group}\" {scope}",
                        attrs.verb
                    ),
                )
            }
            None => (
                String::new(),
                format!(
                    "User \"{user}\" cannot {} path \"{}\"",
                    attrs.verb, attrs.path
                ),
            ),
        };
        let message = if what.0.is_empty() {
            format!("forbidden: {}", what.1)
        } else {
            format!("{} is forbidden: {}", what.0, what.1)
        };
        let details = attrs.resource.as_ref().map(|res| {
            let mut d = json!({"kind": res});
            if let Some(n) = &attrs.name {
                d["name"] = json!(n);
            }
            if !attrs.group.is_empty() {
                d["group"] = json!(attrs.group);
            }
            d
        });
        Self::new(403, "Forbidden", message, details)
    }
}

fn details(r: &Resource, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": r.plural});
    if !r.group.is_empty() {
        d["group"] = json!(r.group);
    }
    d
}
