//! The positioned YAML tree: serde-saphyr parses text into [`Node`]s that remember their
//! line and column, and [`NodeDe`] deserializes typed values out of a node so that every
//! error names the exact field path and position it came from.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

/// A 1-based line and column in the source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Loc {
    pub line: u64,
    pub col: u64,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key; non-string scalar keys are kept as their text.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub loc: Loc,
    pub value: Value,
}

impl Node {
    fn describe(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::UInt(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

fn loc_of(l: &serde_saphyr::Location) -> Loc {
    Loc { line: l.line(), col: l.column() }
}

/// Parses one YAML document into a positioned tree. Syntax errors, duplicate keys and
/// alias bombs are rejected by serde-saphyr with a line and column.
pub fn parse(text: &str) -> Result<Node, (Option<Loc>, String)> {
    // YAML 1.2 core booleans only: `y`, `no`, `on` stay strings (the "Norway problem").
    let options = serde_saphyr::options! { strict_booleans: true, budget: Some(budget()) };
    let spanned: Spanned<RawValue> = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| (e.location().map(|l| loc_of(&l)), parse_message(&e)))?;
    Ok(into_node(spanned))
}

/// The parser's limits: its defaults, but nesting bounded well below what a thread's stack
/// holds (a scenario nests about 6 levels; 64 overflowed a 2 MiB stack in a debug build).
fn budget() -> serde_saphyr::Budget {
    let mut b = serde_saphyr::Budget::default();
    b.max_depth = 32;
    b
}

/// A parser error in the terms of someone writing a YAML file: no type names, option
/// names or debug output from the library.
fn parse_message(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach as B;
    let mut e = e.without_snippet();
    while let E::AliasError { error, .. } = e {
        e = error.without_snippet();
    }
    let limits = budget();
    let aliases = "aliases (`*name`) expand to too much; write the values out instead";
    match e {
        E::Budget { breach, .. } => match breach {
            B::Nodes { .. } => {
                format!("the file is too large or too deeply nested: more than {} YAML nodes", limits.max_nodes)
            }
            B::Events { .. } => {
                format!("the file is too large or too deeply nested: more than {} YAML events", limits.max_events)
            }
            B::Depth { .. } => {
                format!("the file is nested too deeply: more than {} levels of lists and mappings", limits.max_depth)
            }
            B::Anchors { .. } => format!("too many anchors (`&name`): more than {}", limits.max_anchors),
            B::Aliases { .. } | B::AliasAnchorRatio { .. } | B::RecordedAnchorEvents { .. } => aliases.into(),
            B::Documents { .. } => "the file holds too many YAML documents (`---`); firedrill reads one".into(),
            B::MergeKeys { .. } => "too many merge keys (`<<`)".into(),
            _ => "the file is too large or too complex to read".into(),
        },
        E::DuplicateMappingKey { key: Some(k), .. } => format!("key `{k}` appears twice in the same mapping"),
        E::DuplicateMappingKey { key: None, .. } => "a key appears twice in the same mapping".into(),
        E::AliasReplayCounterOverflow { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => aliases.into(),
        E::UnknownAnchor { .. } => "an alias (`*name`) names an anchor (`&name`) defined nowhere before it".into(),
        E::MultipleDocuments { .. } => "the file holds more than one YAML document (`---`); firedrill reads one".into(),
        E::Eof { .. } => "the file ends in the middle of a value".into(),
        E::InvalidUtf8Input => "not UTF-8 text".into(),
        _ => {
            use serde_saphyr::MessageFormatter;
            let msg = serde_saphyr::UserMessageFormatter.format_message(e).into_owned();
            // Positions are printed by the caller, as FILE:LINE:COL.
            match msg.find(" at line ") {
                Some(i) => msg[..i].to_string(),
                None => msg,
            }
        }
    }
}

fn into_node(s: Spanned<RawValue>) -> Node {
    Node { loc: loc_of(&s.referenced), value: s.value.0 }
}

/// Deserialize target used only to build the tree through serde-saphyr.
struct RawValue(Value);

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<RawValue, E> {
                Ok(RawValue(Value::Null))
            }
            fn visit_none<E>(self) -> Result<RawValue, E> {
                Ok(RawValue(Value::Null))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
                RawValue::deserialize(d)
            }
            fn visit_bool<E>(self, b: bool) -> Result<RawValue, E> {
                Ok(RawValue(Value::Bool(b)))
            }
            fn visit_i64<E>(self, n: i64) -> Result<RawValue, E> {
                Ok(RawValue(Value::Int(n)))
            }
            fn visit_u64<E>(self, n: u64) -> Result<RawValue, E> {
                Ok(RawValue(match i64::try_from(n) {
                    Ok(i) => Value::Int(i),
                    Err(_) => Value::UInt(n),
                }))
            }
            fn visit_f64<E>(self, n: f64) -> Result<RawValue, E> {
                Ok(RawValue(Value::Float(n)))
            }
            fn visit_str<E>(self, s: &str) -> Result<RawValue, E> {
                Ok(RawValue(Value::Str(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<RawValue, E> {
                Ok(RawValue(Value::Str(s)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<RawValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = a.next_element::<Spanned<RawValue>>()? {
                    items.push(into_node(item));
                }
                Ok(RawValue(Value::Seq(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<RawValue, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = a.next_key::<Spanned<RawValue>>()? {
                    let name = match &k.value.0 {
                        Value::Str(s) => s.clone(),
                        Value::Int(n) => n.to_string(),
                        Value::UInt(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Float(n) => n.to_string(),
                        Value::Null => "null".to_string(),
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(de::Error::custom("mapping keys must be plain scalars"));
                        }
                    };
                    let v: Spanned<RawValue> = a.next_value()?;
                    entries.push((Key { name, loc: loc_of(&k.referenced) }, into_node(v)));
                }
                Ok(RawValue(Value::Map(entries)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Every node's position by field path (`faults[1].after[0]`), for semantic errors.
#[derive(Debug, Default)]
pub struct Positions(HashMap<String, Loc>);

impl Positions {
    pub fn index(root: &Node) -> Self {
        let mut map = HashMap::new();
        fn walk(n: &Node, path: &str, map: &mut HashMap<String, Loc>) {
            map.insert(path.to_string(), n.loc);
            match &n.value {
                Value::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(item, &format!("{path}[{i}]"), map);
                    }
                }
                Value::Map(entries) => {
                    for (k, v) in entries {
                        walk(v, &join(path, &k.name), map);
                    }
                }
                _ => {}
            }
        }
        walk(root, "", &mut map);
        Positions(map)
    }

    /// The position of `path`, or of its nearest ancestor present in the file.
    pub fn find(&self, path: &str) -> Loc {
        let mut p = path.to_string();
        loop {
            if let Some(l) = self.0.get(&p) {
                return *l;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p.truncate(i),
                None => return self.0.get("").copied().unwrap_or_default(),
            }
        }
    }
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// A deserialization error with the field path and position it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    pub loc: Option<Loc>,
    pub path: Option<String>,
    pub message: String,
}

impl DeError {
    fn at(mut self, loc: Loc, path: &str) -> Self {
        if self.loc.is_none() {
            self.loc = Some(loc);
            self.path = Some(path.to_string());
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError { loc: None, path: None, message: msg.to_string() }
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        de::Error::custom(format!("expected {}, found {}", expected(exp), unexpected(unexp)))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        de::Error::custom(format!("expected {}, found {}", expected(exp), unexpected(unexp)))
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        de::Error::custom(format!("expected {}, found {len} items", expected(exp)))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let message = match did_you_mean(field, expected) {
            Some(s) => format!("unknown field `{field}`, did you mean `{s}`?"),
            None if expected.is_empty() => format!("unknown field `{field}`"),
            None => format!(
                "unknown field `{field}`; expected one of {}",
                expected.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")
            ),
        };
        DeError { loc: None, path: None, message }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let message = match did_you_mean(variant, expected) {
            Some(s) => format!("unknown value `{variant}`, did you mean `{s}`?"),
            None => format!(
                "unknown value `{variant}`; expected one of {}",
                expected.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")
            ),
        };
        DeError { loc: None, path: None, message }
    }
}

/// What serde says a visitor expects, in the words of a YAML file: `u8` is "a whole
/// number from 0 to 255", a "map" is a mapping.
fn expected(exp: &dyn de::Expected) -> String {
    fn whole<T: fmt::Display>(min: T, max: T) -> String {
        format!("a whole number from {min} to {max}")
    }
    let e = exp.to_string();
    match e.as_str() {
        "u8" => whole(u8::MIN, u8::MAX),
        "u16" => whole(u16::MIN, u16::MAX),
        "u32" => whole(u32::MIN, u32::MAX),
        "u64" => whole(u64::MIN, u64::MAX),
        "i8" => whole(i8::MIN, i8::MAX),
        "i16" => whole(i16::MIN, i16::MAX),
        "i32" => whole(i32::MIN, i32::MAX),
        "i64" => whole(i64::MIN, i64::MAX),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "`true` or `false`".into(),
        "a sequence" => "a list".into(),
        "a map" => "a mapping".into(),
        "a borrowed string" => "a string".into(),
        _ if e.starts_with("struct ") || e.starts_with("map") => "a mapping".into(),
        _ if e.starts_with("tuple") || e.starts_with("sequence") => "a list".into(),
        _ => e,
    }
}

/// The value a file held, as it was written.
fn unexpected(u: de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match u {
        U::Bool(b) => format!("`{b}`"),
        U::Unsigned(n) => n.to_string(),
        U::Signed(n) => n.to_string(),
        U::Float(f) => f.to_string(),
        U::Char(c) => format!("{c:?}"),
        U::Str(s) => format!("{s:?}"),
        U::Unit | U::Option => "null".into(),
        U::Seq => "a list".into(),
        U::Map => "a mapping".into(),
        other => other.to_string(),
    }
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .filter(|c| {
            let edits = strsim::osa_distance(word, c);
            edits <= 2.max(c.len() / 4) && edits < c.len()
        })
        .min_by_key(|c| strsim::osa_distance(word, c))
        .copied()
}

/// Deserializes a typed value out of one node, tracking the field path.
pub struct NodeDe<'a> {
    node: &'a Node,
    path: String,
}

impl<'a> NodeDe<'a> {
    pub fn new(node: &'a Node, path: impl Into<String>) -> Self {
        NodeDe { node, path: path.into() }
    }

    fn err(&self, e: DeError) -> DeError {
        e.at(self.node.loc, &self.path)
    }
}

/// Deserializes `T` from `node`, the error carrying the position of the offending node.
pub fn from_node<'de, T: Deserialize<'de>>(node: &Node, path: &str) -> Result<T, DeError> {
    T::deserialize(NodeDe::new(node, path))
}

impl<'de> Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Int(n) => v.visit_i64(*n),
            Value::UInt(n) => v.visit_u64(*n),
            Value::Float(n) => v.visit_f64(*n),
            Value::Str(s) => v.visit_str(s),
            Value::Seq(items) => v.visit_seq(Seq { items, idx: 0, path: &self.path }),
            Value::Map(entries) => v.visit_map(Map { entries, idx: 0, path: &self.path, pending: None }),
        };
        r.map_err(|e| self.err(e))
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Map(_) => self.deserialize_any(v),
            _ => {
                let found = self.node.describe();
                let fields = fields.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>();
                Err(self.err(de::Error::custom(format!(
                    "expected a mapping with fields {}, found {found}",
                    fields.join(", ")
                ))))
            }
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Seq(_) => self.deserialize_any(v),
            _ => {
                let found = self.node.describe();
                Err(self.err(de::Error::custom(format!("expected a list, found {found}"))))
            }
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Map(_) => self.deserialize_any(v),
            _ => {
                let found = self.node.describe();
                Err(self.err(de::Error::custom(format!("expected a mapping, found {found}"))))
            }
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(s) => {
                let d: de::value::StrDeserializer<'_, DeError> = s.as_str().into_deserializer();
                v.visit_enum(d).map_err(|e| self.err(e))
            }
            _ => {
                let found = self.node.describe();
                Err(self.err(de::Error::custom(format!("expected a string, found {found}"))))
            }
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct identifier ignored_any
    }
}

struct Seq<'a> {
    items: &'a [Node],
    idx: usize,
    path: &'a str,
}

impl<'de> SeqAccess<'de> for Seq<'_> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let Some(item) = self.items.get(self.idx) else { return Ok(None) };
        let path = format!("{}[{}]", self.path, self.idx);
        self.idx += 1;
        seed.deserialize(NodeDe { node: item, path }).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.idx)
    }
}

struct Map<'a> {
    entries: &'a [(Key, Node)],
    idx: usize,
    path: &'a str,
    pending: Option<(&'a Node, String)>,
}

impl<'de> MapAccess<'de> for Map<'_> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some((k, v)) = self.entries.get(self.idx) else { return Ok(None) };
        self.idx += 1;
        let path = join(self.path, &k.name);
        let d: de::value::StrDeserializer<'_, DeError> = k.name.as_str().into_deserializer();
        let key = seed.deserialize(d).map_err(|e| e.at(k.loc, &path))?;
        self.pending = Some((v, path));
        Ok(Some(key))
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (node, path) = self.pending.take().ok_or_else(|| de::Error::custom("value without key"))?;
        let loc = node.loc;
        seed.deserialize(NodeDe { node, path: path.clone() }).map_err(|e| e.at(loc, &path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u16,
        label: Option<String>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
    }

    #[test]
    fn positions_follow_the_source() {
        let root = parse("a:\n  b: [1, 2]\n  c: x\n").unwrap();
        let p = Positions::index(&root);
        assert_eq!(p.find("a.c"), Loc { line: 3, col: 6 });
        assert_eq!(p.find("a.b[1]"), Loc { line: 2, col: 10 });
        assert_eq!(p.find("a.missing"), p.find("a"));
    }

    #[test]
    fn errors_name_path_and_position() {
        let root = parse("items:\n  - count: 1\n  - count: 70000\n").unwrap();
        let e = from_node::<Outer>(&root, "").unwrap_err();
        assert_eq!(e.path.as_deref(), Some("items[1].count"));
        assert_eq!(e.loc, Some(Loc { line: 3, col: 12 }));

        let root = parse("items:\n  - count: 1\n    lable: x\n").unwrap();
        let e = from_node::<Outer>(&root, "").unwrap_err();
        assert_eq!(e.path.as_deref(), Some("items[0].lable"));
        assert_eq!(e.loc, Some(Loc { line: 3, col: 5 }));
        assert_eq!(e.message, "unknown field `lable`, did you mean `label`?");

        let root = parse("items:\n  - label: x\n").unwrap();
        let e = from_node::<Outer>(&root, "").unwrap_err();
        assert_eq!(e.path.as_deref(), Some("items[0]"));
        assert_eq!(e.message, "missing field `count`");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let (loc, msg) = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(loc.is_some(), "{msg}");
        let (loc, msg) = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(loc.map(|l| l.line), Some(2), "{msg}");
    }
}
