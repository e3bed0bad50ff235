//! An order-preserving YAML tree that accepts whatever model cards contain.
//!
//! `serde_yaml_ng::Value` rejects duplicate keys and `serde_json::Value` rejects
//! tags, non-text keys and huge integers; model cards have all of these, so the
//! front matter is read into this small tree instead. Keys keep their order
//! (gated-access form fields are shown in the order written), duplicate keys are
//! kept (lookups take the last one, as PyYAML and the Hub do), tags are dropped
//! and non-text keys are written as text.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess};

/// One YAML node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Yaml {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Text(String),
    List(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    /// Parses one YAML document.
    pub(crate) fn parse(text: &str) -> Result<Yaml, serde_yaml_ng::Error> {
        serde_yaml_ng::from_str(text)
    }

    /// The value of `key` when this is a map (the last one if the key repeats).
    pub(crate) fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A scalar written as text: numbers as YAML wrote them (`1.0` stays `1.0`),
    /// booleans as `true`/`false`. `None` for null, lists and maps.
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match self {
            Yaml::Bool(b) => Some(b.to_string()),
            Yaml::Number(n) => Some(number_text(n)),
            Yaml::Text(s) => Some(s.clone()),
            Yaml::Null | Yaml::List(_) | Yaml::Map(_) => None,
        }
    }

    /// What kind of node this is, for warnings ("a list", "a map", …).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Yaml::Null => "empty",
            Yaml::Bool(_) => "true/false",
            Yaml::Number(_) => "a number",
            Yaml::Text(_) => "text",
            Yaml::List(_) => "a list",
            Yaml::Map(_) => "a map",
        }
    }

    /// The same data as JSON (for duplicate keys the last one wins).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Number(n) => Value::Number(n.clone()),
            Yaml::Text(s) => Value::String(s.clone()),
            Yaml::List(items) => Value::Array(items.iter().map(Yaml::to_json).collect()),
            Yaml::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Shortest text that reads back as the same number, keeping a `.0` on whole
/// floats so `48.0` is not shown as `48` (and `79.87` never as `79.870000001`).
fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if !n.is_i64() && !n.is_u64() => format!("{f:?}"),
        _ => n.to_string(),
    }
}

/// Text for a map key that is not text in the YAML (`1:`, `true:`, `[a, b]:`).
fn key_text(key: Yaml) -> String {
    match key {
        Yaml::Null => "null".to_owned(),
        Yaml::List(_) | Yaml::Map(_) => key.to_json().to_string(),
        scalar => scalar.scalar_text().unwrap_or_default(),
    }
}

impl<'de> Deserialize<'de> for Yaml {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(YamlVisitor)
    }
}

struct YamlVisitor;

impl<'de> de::Visitor<'de> for YamlVisitor {
    type Value = Yaml;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Yaml, E> {
        Ok(Yaml::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Yaml, E> {
        Ok(Yaml::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Yaml, E> {
        Ok(Yaml::Number(v.into()))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Yaml, E> {
        Ok(i64::try_from(v).map_or_else(|_| Yaml::Text(v.to_string()), |n| Yaml::Number(n.into())))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Yaml, E> {
        Ok(u64::try_from(v).map_or_else(|_| Yaml::Text(v.to_string()), |n| Yaml::Number(n.into())))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Yaml, E> {
        Ok(match serde_json::Number::from_f64(v) {
            Some(n) => Yaml::Number(n),
            None if v.is_nan() => Yaml::Text(".nan".to_owned()),
            None if v > 0.0 => Yaml::Text(".inf".to_owned()),
            None => Yaml::Text("-.inf".to_owned()),
        })
    }

    fn visit_str<E>(self, v: &str) -> Result<Yaml, E> {
        Ok(Yaml::Text(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Yaml, E> {
        Ok(Yaml::Text(v))
    }

    fn visit_unit<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }

    fn visit_none<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Yaml, D::Error> {
        Yaml::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Yaml, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Yaml::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Yaml, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<Yaml, Yaml>()? {
            entries.push((key_text(key), value));
        }
        Ok(Yaml::Map(entries))
    }

    /// A tagged node (`!something value`): the tag is dropped, the value kept.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Yaml, A::Error> {
        let (_tag, value) = data.variant::<de::IgnoredAny>()?;
        value.newtype_variant()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Yaml {
        match Yaml::parse(text) {
            Ok(yaml) => yaml,
            Err(err) => panic!("{text:?} should parse: {err}"),
        }
    }

    #[test]
    fn numbers_keep_their_written_form() {
        let yaml = parse("a: 48.0\nb: 48.538000000000004\nc: 79.87\nd: 131\ne: -3\nf: 1.0\n");
        let text = |key| yaml.get(key).and_then(Yaml::scalar_text);
        assert_eq!(text("a").as_deref(), Some("48.0"));
        assert_eq!(text("b").as_deref(), Some("48.538000000000004"));
        assert_eq!(text("c").as_deref(), Some("79.87"));
        assert_eq!(text("d").as_deref(), Some("131"));
        assert_eq!(text("e").as_deref(), Some("-3"));
        assert_eq!(text("f").as_deref(), Some("1.0"));
    }

    #[test]
    fn odd_yaml_is_accepted() {
        let cases: &[(&str, serde_json::Value)] = &[
            ("a: 1\na: 2\n", serde_json::json!({"a": 2})),
            ("a: !custom {b: 1}\n", serde_json::json!({"a": {"b": 1}})),
            ("!custom text\n", serde_json::json!("text")),
            (
                "1: x\ntrue: y\n~: z\n",
                serde_json::json!({"1": "x", "true": "y", "null": "z"}),
            ),
            ("? [a, b]\n: c\n", serde_json::json!({"[\"a\",\"b\"]": "c"})),
            (
                "big: 123456789012345678901234\n",
                serde_json::json!({"big": "123456789012345678901234"}),
            ),
            (
                "n: .nan\ni: -.inf\n",
                serde_json::json!({"n": ".nan", "i": "-.inf"}),
            ),
            (
                "a: &x [1]\nb: *x\n",
                serde_json::json!({"a": [1], "b": [1]}),
            ),
            ("language: no\n", serde_json::json!({"language": "no"})),
            ("", serde_json::Value::Null),
        ];
        for (text, expected) in cases {
            assert_eq!(&parse(text).to_json(), expected, "{text:?}");
        }
    }

    #[test]
    fn duplicate_keys_keep_order_and_last_wins() {
        let yaml = parse("b: 1\na: 2\nb: 3\n");
        assert_eq!(yaml.get("b"), Some(&Yaml::Number(3.into())));
        let Yaml::Map(entries) = yaml else {
            panic!("expected a map");
        };
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "b"]);
    }

    #[test]
    fn broken_yaml_is_an_error_not_a_panic() {
        for text in [
            ">\n@",
            "{-",
            "[!,",
            "a: ''|\n 0",
            "a: [1, 2",
            "--- a\n--- b\n",
            "\t- x",
        ] {
            let _ = Yaml::parse(text);
        }
        assert!(Yaml::parse("a: [1, 2").is_err());
    }
}
