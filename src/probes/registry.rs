//! The machinery behind the registration list in `probes/mod.rs`: [`Probe`] (a probe as
//! the scenario file writes it), and the macro that turns the list of [`super::Kind`]s into
//! [`super::ProbeKind`] with one-line dispatch arms, the loader of a probe (`name`,
//! `every` and exactly one kind key, with the messages and positions the scenario loader
//! reports), its serialization and its JSON schema.

use serde::de;

use super::ProbeKind;
use crate::scenario::Dur;

/// A steady-state probe: `name`, `every`, and exactly one kind key.
#[derive(Clone, Debug)]
pub struct Probe {
    pub name: String,
    /// Sampling interval; at least 100ms.
    pub every: Dur,
    /// The kind key and its config.
    pub kind: ProbeKind,
}

/// The probe, once its keys are read: exactly one kind, or the error that names them.
pub(super) fn one_kind<E: de::Error>(name: String, every: Dur, mut kinds: Vec<ProbeKind>) -> Result<Probe, E> {
    let set: Vec<String> = ProbeKind::KEYS
        .iter()
        .filter(|key| kinds.iter().any(|k| k.key() == **key))
        .map(|key| format!("`{key}`"))
        .collect();
    let n = kinds.len();
    match kinds.pop() {
        Some(kind) if n == 1 => Ok(Probe { name, every, kind }),
        Some(_) => {
            Err(E::custom(format!("probe `{name}` has {n} kind keys ({}); a probe has exactly one", set.join(", "))))
        }
        None => {
            let all: Vec<String> = ProbeKind::KEYS.iter().map(|k| format!("`{k}`")).collect();
            Err(E::custom(format!("probe `{name}` has no kind: add one of {}", all.join(", "))))
        }
    }
}

/// Generates [`super::ProbeKind`] and the serde and schemars impls of [`Probe`] from the
/// registration list `Variant(path::KindType), ...`.
macro_rules! define_probe_kinds {
    ($($variant:ident($kind:ty)),* $(,)?) => {
        /// A probe's kind and its config (exactly one per probe).
        #[derive(Clone, Debug)]
        pub enum ProbeKind {
            $($variant(<$kind as Kind>::Config)),*
        }

        impl ProbeKind {
            /// Every kind key, in registration order.
            pub const KEYS: &'static [&'static str] = &[$(<$kind as Kind>::KEY),*];

            /// The kind key, e.g. `http`.
            pub fn key(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$kind as Kind>::KEY),*
                }
            }

            /// Whether the probe calls AWS.
            pub fn needs_aws(&self) -> bool {
                match self {
                    $(Self::$variant(_) => <$kind as Kind>::AWS),*
                }
            }

            /// Problems with the kind's config; `at` is the probe's path (`steady_state[0]`).
            pub fn validate(&self, at: &str) -> Vec<$crate::scenario::validate::Problem> {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::validate(c, &format!("{at}.{}", <$kind as Kind>::KEY))),*
                }
            }

            /// One line for `firedrill plan`, without the interval.
            pub fn describe(&self) -> String {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::describe(c)),*
                }
            }

            /// What the probe watches, as the report names it.
            pub fn target(&self) -> String {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::target(c)),*
                }
            }

            /// The IAM statements the probe needs.
            pub fn iam(&self) -> Vec<$crate::iam_policy::Stmt> {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::iam(c)),*
                }
            }

            /// The check and its own timeout.
            pub fn build(
                &self,
                aws: Option<&$crate::aws::Aws>,
            ) -> (std::time::Duration, std::sync::Arc<dyn $crate::engine::Probe>) {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::build(c, aws)),*
                }
            }
        }

        /// The keys a probe may hold.
        const PROBE_FIELDS: &[&str] = &["name", "every", $(<$kind as Kind>::KEY),*];

        impl serde::Serialize for Probe {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("name", &self.name)?;
                m.serialize_entry("every", &self.every)?;
                match &self.kind {
                    $(ProbeKind::$variant(c) => m.serialize_entry(<$kind as Kind>::KEY, c)?),*
                }
                m.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for Probe {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::{self, MapAccess, Visitor};

                enum Field {
                    Name,
                    Every,
                    $($variant),*
                }

                struct FieldVisitor;

                impl Visitor<'_> for FieldVisitor {
                    type Value = Field;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("field identifier")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                        match v {
                            "name" => Ok(Field::Name),
                            "every" => Ok(Field::Every),
                            $(k if k == <$kind as Kind>::KEY => Ok(Field::$variant),)*
                            _ => Err(E::unknown_field(v, PROBE_FIELDS)),
                        }
                    }
                }

                impl<'de> serde::Deserialize<'de> for Field {
                    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                        d.deserialize_identifier(FieldVisitor)
                    }
                }

                struct ProbeVisitor;

                impl<'de> Visitor<'de> for ProbeVisitor {
                    type Value = Probe;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("struct Probe")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Probe, A::Error> {
                        let mut name: Option<String> = None;
                        let mut every: Option<$crate::scenario::Dur> = None;
                        let mut kinds: Vec<ProbeKind> = Vec::new();
                        while let Some(field) = map.next_key::<Field>()? {
                            match field {
                                Field::Name => {
                                    if name.is_some() {
                                        return Err(de::Error::duplicate_field("name"));
                                    }
                                    name = Some(map.next_value()?);
                                }
                                Field::Every => {
                                    if every.is_some() {
                                        return Err(de::Error::duplicate_field("every"));
                                    }
                                    every = Some(map.next_value()?);
                                }
                                $(Field::$variant => {
                                    if kinds.iter().any(|k| matches!(k, ProbeKind::$variant(_))) {
                                        return Err(de::Error::duplicate_field(<$kind as Kind>::KEY));
                                    }
                                    // A kind key with no value (`http:`) is not set.
                                    let c: Option<<$kind as Kind>::Config> = map.next_value()?;
                                    kinds.extend(c.map(ProbeKind::$variant));
                                })*
                            }
                        }
                        let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
                        let every = every.ok_or_else(|| de::Error::missing_field("every"))?;
                        registry::one_kind(name, every, kinds)
                    }
                }

                d.deserialize_struct("Probe", PROBE_FIELDS, ProbeVisitor)
            }
        }

        impl schemars::JsonSchema for Probe {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                "Probe".into()
            }

            fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let mut every = g.subschema_for::<$crate::scenario::Dur>();
                every.insert("description".into(), "Sampling interval; at least 100ms.".into());
                let mut properties = serde_json::Map::new();
                properties.insert("name".into(), g.subschema_for::<String>().to_value());
                properties.insert("every".into(), every.to_value());
                $(properties.insert(
                    <$kind as Kind>::KEY.into(),
                    g.subschema_for::<Option<<$kind as Kind>::Config>>().to_value(),
                );)*
                let one_of: Vec<serde_json::Value> =
                    ProbeKind::KEYS.iter().map(|k| serde_json::json!({"required": [k]})).collect();
                schemars::json_schema!({
                    "type": "object",
                    "description": "A steady-state probe: `name`, `every`, and exactly one kind key.",
                    "properties": properties,
                    "required": ["name", "every"],
                    "additionalProperties": false,
                    "oneOf": one_of,
                })
            }
        }
    };
}

pub(super) use define_probe_kinds;
