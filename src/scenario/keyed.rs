//! Entries that hold a few common keys and exactly one kind key (a probe: `name`, `every`
//! and `http:`; a fault: `name`, `duration`, `after` and `az_outage:`). [`keyed_config!`]
//! turns a registration list of kinds into the entry's struct, its kind enum (one variant
//! per kind, holding that kind's config) and the entry's loader, serializer and JSON
//! schema, so a kind is registered by one line and has no optional field of its own.
//!
//! The loader reads the kind key into the enum: a key with no value (`http:`) is not set,
//! no kind or two kinds is an error naming the keys, and every other error keeps the
//! position and field path the scenario loader reports.

use serde::de;

/// The entry, once its keys are read: exactly one kind, or the error that names them.
/// `keys` are the kind keys in registration order; `set` says which of them were given.
pub fn one_kind<E: de::Error, K>(
    what: &str,
    name: &str,
    keys: &[&str],
    mut kinds: Vec<K>,
    key: fn(&K) -> &'static str,
) -> Result<K, E> {
    let n = kinds.len();
    if n == 1
        && let Some(k) = kinds.pop()
    {
        return Ok(k);
    }
    let quoted = |k: &&str| format!("`{k}`");
    if n == 0 {
        let all: Vec<String> = keys.iter().map(quoted).collect();
        return Err(E::custom(format!("{what} `{name}` has no kind: add one of {}", all.join(", "))));
    }
    let set: Vec<String> = keys.iter().filter(|k| kinds.iter().any(|x| key(x) == **k)).map(quoted).collect();
    Err(E::custom(format!("{what} `{name}` has {n} kind keys ({}); a {what} has exactly one", set.join(", "))))
}

/// Generates an entry struct with common fields plus `kind`, its kind enum, and the
/// serde and schemars impls. Each common field is
/// `pub FIELD: TYPE = "key", "description" [, default EXPR] [, via TYPE]`: with a default
/// it may be left out (and is not written when equal to it); `via` reads (and describes in
/// the schema) another type that converts into the field's.
macro_rules! keyed_config {
    (
        $(#[$smeta:meta])*
        pub struct $S:ident ($what:literal, $title:literal, $desc:literal, named $nm:ident) {
            $( pub $f:ident : $fty:ty = $fkey:literal, $fdesc:literal $(, default $fdef:expr)? $(, via $fvia:ty)? ; )*
        }
        $(#[$emeta:meta])*
        pub enum $E:ident : $Trait:ident { $($V:ident($K:ty)),* $(,)? }
    ) => {
        $(#[$smeta])*
        #[derive(Clone, Debug)]
        pub struct $S {
            $( #[doc = $fdesc] pub $f: $fty, )*
            /// The kind key and its config.
            pub kind: $E,
        }

        $(#[$emeta])*
        #[derive(Clone, Debug)]
        pub enum $E {
            $($V(<$K as $Trait>::Config)),*
        }

        impl $E {
            /// Every kind key, in registration order.
            pub const KEYS: &'static [&'static str] = &[$(<$K as $Trait>::KEY),*];

            /// The kind key, e.g. `http`.
            pub fn key(&self) -> &'static str {
                match self {
                    $(Self::$V(_) => <$K as $Trait>::KEY),*
                }
            }
        }

        impl serde::Serialize for $S {
            fn serialize<Ser: serde::Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(None)?;
                $(
                    if !$crate::scenario::keyed::keyed_config!(@skip &self.$f $(, $fdef)?) {
                        m.serialize_entry($fkey, &self.$f)?;
                    }
                )*
                match &self.kind {
                    $($E::$V(c) => m.serialize_entry(<$K as $Trait>::KEY, c)?),*
                }
                m.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for $S {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::{self, MapAccess, Visitor};

                const FIELDS: &[&str] = &[$($fkey,)* $(<$K as $Trait>::KEY),*];

                #[allow(non_camel_case_types)]
                enum Field {
                    $($f,)*
                    $($V),*
                }

                struct FieldVisitor;

                impl Visitor<'_> for FieldVisitor {
                    type Value = Field;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("field identifier")
                    }
                    fn visit_str<Er: de::Error>(self, v: &str) -> Result<Field, Er> {
                        match v {
                            $($fkey => Ok(Field::$f),)*
                            $(k if k == <$K as $Trait>::KEY => Ok(Field::$V),)*
                            _ => Err(Er::unknown_field(v, FIELDS)),
                        }
                    }
                }

                impl<'de> serde::Deserialize<'de> for Field {
                    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                        d.deserialize_identifier(FieldVisitor)
                    }
                }

                struct EntryVisitor;

                impl<'de> Visitor<'de> for EntryVisitor {
                    type Value = $S;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("struct ", $title))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$S, A::Error> {
                        $( let mut $f: Option<$fty> = None; )*
                        let mut kinds: Vec<$E> = Vec::new();
                        while let Some(field) = map.next_key::<Field>()? {
                            match field {
                                $(Field::$f => {
                                    if $f.is_some() {
                                        return Err(de::Error::duplicate_field($fkey));
                                    }
                                    $f = Some($crate::scenario::keyed::keyed_config!(@read map, $fty $(, $fvia)?));
                                })*
                                $(Field::$V => {
                                    if kinds.iter().any(|k| matches!(k, $E::$V(_))) {
                                        return Err(de::Error::duplicate_field(<$K as $Trait>::KEY));
                                    }
                                    // A kind key with no value (`http:`) is not set.
                                    let c: Option<<$K as $Trait>::Config> = map.next_value()?;
                                    kinds.extend(c.map($E::$V));
                                })*
                            }
                        }
                        $(
                            let $f: $fty = match $f {
                                Some(v) => v,
                                None => $crate::scenario::keyed::keyed_config!(@default $fkey $(, $fdef)?),
                            };
                        )*
                        let kind = $crate::scenario::keyed::one_kind($what, &$nm, $E::KEYS, kinds, $E::key)?;
                        Ok($S { $($f,)* kind })
                    }
                }

                d.deserialize_struct($title, FIELDS, EntryVisitor)
            }
        }

        impl schemars::JsonSchema for $S {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $title.into()
            }

            fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let mut properties = serde_json::Map::new();
                let mut required: Vec<&str> = Vec::new();
                $(
                    let mut field = $crate::scenario::keyed::keyed_config!(@schema g, $fty $(, $fvia)?);
                    field.insert("description".into(), $fdesc.into());
                    properties.insert($fkey.into(), field.to_value());
                    if !$crate::scenario::keyed::keyed_config!(@optional $(, $fdef)?) {
                        required.push($fkey);
                    }
                )*
                $(properties.insert(
                    <$K as $Trait>::KEY.into(),
                    g.subschema_for::<Option<<$K as $Trait>::Config>>().to_value(),
                );)*
                let one_of: Vec<serde_json::Value> =
                    $E::KEYS.iter().map(|k| serde_json::json!({"required": [k]})).collect();
                schemars::json_schema!({
                    "type": "object",
                    "description": $desc,
                    "properties": properties,
                    "required": required,
                    "additionalProperties": false,
                    "oneOf": one_of,
                })
            }
        }
    };

    (@skip $v:expr) => { false };
    (@skip $v:expr, $def:expr) => { *$v == $def };
    (@read $map:ident, $ty:ty) => { $map.next_value::<$ty>()? };
    (@read $map:ident, $ty:ty, $via:ty) => { $map.next_value::<$via>()?.into() };
    (@default $key:literal) => { return Err(serde::de::Error::missing_field($key)) };
    (@default $key:literal, $def:expr) => { $def };
    (@optional) => { false };
    (@optional , $def:expr) => { true };
    (@schema $g:ident, $ty:ty) => { $g.subschema_for::<$ty>() };
    (@schema $g:ident, $ty:ty, $via:ty) => { $g.subschema_for::<$via>() };
}

pub(crate) use keyed_config;
