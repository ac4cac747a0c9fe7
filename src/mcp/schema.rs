//! The JSON Schema subset a tool's `input` may use, and the check of a call's arguments against
//! it. A keyword outside the subset is refused when the tools file loads (a keyword that were
//! silently ignored would let arguments through that the author meant to refuse).
//!
//! Validating: `type` (a name or a list of names), `properties`, `required`,
//! `additionalProperties` (a boolean or a schema), `items`, `minItems`, `maxItems`, `enum`,
//! `const`, `minLength`, `maxLength` (in characters), `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum` (numbers). Annotations, accepted and not checked:
//! `title`, `description`, `default`, `examples`, `format`, `$schema`, `$comment`.

use serde_json::{Map, Value};

const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "examples",
    "format",
    "$schema",
    "$comment",
];
const TYPES: &[&str] = &[
    "object", "array", "string", "integer", "number", "boolean", "null",
];

/// A compiled schema: the keywords of the subset, each checked when compiled.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    types: Option<Vec<String>>,
    properties: Vec<(String, Schema)>,
    required: Vec<String>,
    /// `None`: any further property; `Some(None)`: none; `Some(Some(s))`: each matches `s`.
    additional: Option<Option<Box<Schema>>>,
    items: Option<Box<Schema>>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    enumeration: Option<Vec<Value>>,
    constant: Option<Value>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
}

impl Schema {
    /// Compile `v`, refusing what the subset does not have.
    pub fn compile(v: &Value) -> Result<Schema, String> {
        compile_at(v, "")
    }

    /// The single type, when the schema names exactly one.
    pub fn kind(&self) -> Option<&str> {
        match self.types.as_deref() {
            Some([one]) => Some(one.as_str()),
            _ => None,
        }
    }

    pub fn has_property(&self, name: &str) -> bool {
        self.properties.iter().any(|(n, _)| n == name)
    }

    /// Check `v`; the first mismatch, with its JSON path (`/a/0`).
    pub fn validate(&self, v: &Value) -> Result<(), String> {
        self.check(v, "")
    }

    fn check(&self, v: &Value, path: &str) -> Result<(), String> {
        let at = if path.is_empty() {
            "the arguments"
        } else {
            path
        };
        if let Some(types) = &self.types {
            if !types.iter().any(|t| has_type(v, t)) {
                return Err(format!(
                    "{at}: expected {}, got {}",
                    types.join(" or "),
                    type_of(v)
                ));
            }
        }
        if let Some(c) = &self.constant {
            if !same(c, v) {
                return Err(format!("{at}: must be {c}"));
            }
        }
        if let Some(e) = &self.enumeration {
            if !e.iter().any(|x| same(x, v)) {
                let list: Vec<String> = e.iter().map(Value::to_string).collect();
                return Err(format!("{at}: must be one of {}", list.join(", ")));
            }
        }
        match v {
            Value::Object(m) => self.check_object(m, path, at),
            Value::Array(a) => {
                let n = a.len() as u64;
                if self.min_items.is_some_and(|m| n < m) || self.max_items.is_some_and(|m| n > m) {
                    return Err(format!("{at}: {n} items is outside the allowed count"));
                }
                if let Some(s) = &self.items {
                    for (i, x) in a.iter().enumerate() {
                        s.check(x, &format!("{path}/{i}"))?;
                    }
                }
                Ok(())
            }
            Value::String(s) => {
                let n = s.chars().count() as u64;
                if self.min_length.is_some_and(|m| n < m) {
                    return Err(format!(
                        "{at}: shorter than {} characters",
                        self.min_length.unwrap_or(0)
                    ));
                }
                if self.max_length.is_some_and(|m| n > m) {
                    return Err(format!(
                        "{at}: longer than {} characters",
                        self.max_length.unwrap_or(0)
                    ));
                }
                Ok(())
            }
            Value::Number(num) => {
                let x = num.as_f64().unwrap_or(f64::NAN);
                let bad = self.minimum.is_some_and(|m| x < m)
                    || self.maximum.is_some_and(|m| x > m)
                    || self.exclusive_minimum.is_some_and(|m| x <= m)
                    || self.exclusive_maximum.is_some_and(|m| x >= m);
                if bad {
                    return Err(format!("{at}: {num} is outside the allowed range"));
                }
                Ok(())
            }
            Value::Bool(_) | Value::Null => Ok(()),
        }
    }

    fn check_object(&self, m: &Map<String, Value>, path: &str, at: &str) -> Result<(), String> {
        for r in &self.required {
            if !m.contains_key(r) {
                return Err(format!("{at}: missing required property \"{r}\""));
            }
        }
        for (k, x) in m {
            let sub = format!("{path}/{k}");
            match self.properties.iter().find(|(n, _)| n == k) {
                Some((_, s)) => s.check(x, &sub)?,
                None => match &self.additional {
                    None => {}
                    Some(None) => return Err(format!("{at}: unknown property \"{k}\"")),
                    Some(Some(s)) => s.check(x, &sub)?,
                },
            }
        }
        Ok(())
    }
}

fn compile_at(v: &Value, path: &str) -> Result<Schema, String> {
    let here = if path.is_empty() {
        "the schema".to_string()
    } else {
        path.to_string()
    };
    let m = v
        .as_object()
        .ok_or_else(|| format!("{here} is not an object"))?;
    let mut s = Schema::default();
    for (k, x) in m {
        let bad = || format!("{here}: {k} = {x} is not valid");
        match k.as_str() {
            "type" => {
                let names: Vec<String> = match x {
                    Value::String(t) => vec![t.clone()],
                    Value::Array(a) => a
                        .iter()
                        .map(|t| t.as_str().map(String::from).ok_or_else(bad))
                        .collect::<Result<_, _>>()?,
                    _ => return Err(bad()),
                };
                if let Some(t) = names.iter().find(|t| !TYPES.contains(&t.as_str())) {
                    return Err(format!("{here}: unknown type \"{t}\""));
                }
                s.types = Some(names);
            }
            "properties" => {
                let props = x.as_object().ok_or_else(bad)?;
                for (name, sub) in props {
                    s.properties.push((
                        name.clone(),
                        compile_at(sub, &format!("{path}/properties/{name}"))?,
                    ));
                }
            }
            "required" => {
                s.required = x
                    .as_array()
                    .ok_or_else(bad)?
                    .iter()
                    .map(|r| r.as_str().map(String::from).ok_or_else(bad))
                    .collect::<Result<_, _>>()?;
            }
            "additionalProperties" => {
                s.additional = match x {
                    Value::Bool(true) => None,
                    Value::Bool(false) => Some(None),
                    other => Some(Some(Box::new(compile_at(
                        other,
                        &format!("{path}/additionalProperties"),
                    )?))),
                };
            }
            "items" => s.items = Some(Box::new(compile_at(x, &format!("{path}/items"))?)),
            "minItems" => s.min_items = Some(x.as_u64().ok_or_else(bad)?),
            "maxItems" => s.max_items = Some(x.as_u64().ok_or_else(bad)?),
            "minLength" => s.min_length = Some(x.as_u64().ok_or_else(bad)?),
            "maxLength" => s.max_length = Some(x.as_u64().ok_or_else(bad)?),
            "minimum" => s.minimum = Some(x.as_f64().ok_or_else(bad)?),
            "maximum" => s.maximum = Some(x.as_f64().ok_or_else(bad)?),
            "exclusiveMinimum" => s.exclusive_minimum = Some(x.as_f64().ok_or_else(bad)?),
            "exclusiveMaximum" => s.exclusive_maximum = Some(x.as_f64().ok_or_else(bad)?),
            "enum" => s.enumeration = Some(x.as_array().ok_or_else(bad)?.clone()),
            "const" => s.constant = Some(x.clone()),
            a if ANNOTATIONS.contains(&a) => {}
            other => return Err(format!("{here}: keyword \"{other}\" is not supported")),
        }
    }
    for r in &s.required {
        if !s.properties.iter().any(|(n, _)| n == r) && matches!(s.additional, Some(None)) {
            return Err(format!(
                "{here}: required \"{r}\" is not among the properties"
            ));
        }
    }
    Ok(s)
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => {
            v.as_i64().is_some()
                || v.as_u64().is_some()
                || v.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
    }
}

/// JSON equality, with 1 and 1.0 equal (as JSON Schema's `enum` and `const` compare numbers).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::compile(&json!({
            "type": "object",
            "required": ["q"],
            "additionalProperties": false,
            "properties": {
                "q": {"type": "string", "minLength": 1, "maxLength": 5, "description": "query"},
                "n": {"type": "integer", "minimum": 1, "maximum": 10},
                "mode": {"enum": ["a", "b"]},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}
            }
        }))
        .unwrap()
    }

    #[test]
    fn arguments_inside_the_schema_pass() {
        let s = schema();
        for v in [
            json!({"q": "x"}),
            json!({"q": "hello", "n": 10, "mode": "b", "tags": ["t"]}),
            json!({"q": "x", "n": 3.0}),
        ] {
            s.validate(&v).unwrap_or_else(|e| panic!("{v}: {e}"));
        }
    }

    #[test]
    fn each_keyword_refuses_what_it_should() {
        let s = schema();
        for (v, needle) in [
            (json!([]), "expected object"),
            (json!({}), "missing required property \"q\""),
            (json!({"q": ""}), "shorter"),
            (json!({"q": "toolong"}), "longer"),
            (json!({"q": 1}), "/q: expected string"),
            (json!({"q": "x", "n": 0}), "outside the allowed range"),
            (json!({"q": "x", "n": 1.5}), "expected integer"),
            (json!({"q": "x", "mode": "c"}), "one of"),
            (json!({"q": "x", "tags": [1]}), "/tags/0"),
            (json!({"q": "x", "tags": ["a", "b", "c"]}), "3 items"),
            (json!({"q": "x", "extra": 1}), "unknown property \"extra\""),
        ] {
            let e = s.validate(&v).unwrap_err();
            assert!(e.contains(needle), "{v}: {e}");
        }
    }

    #[test]
    fn a_keyword_outside_the_subset_is_refused() {
        for (v, needle) in [
            (
                json!({"type": "object", "properties": {"a": {"pattern": "^x"}}}),
                "\"pattern\" is not supported",
            ),
            (json!({"oneOf": []}), "\"oneOf\""),
            (json!({"type": "thing"}), "unknown type"),
            (json!({"minLength": "3"}), "not valid"),
        ] {
            let e = Schema::compile(&v).unwrap_err();
            assert!(e.contains(needle), "{v}: {e}");
        }
    }
}
