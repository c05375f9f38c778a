//! The values of an event's fields as the decoder reads them, from either of two sources: a
//! parsed `serde_json::Value` object (the reference path) or a flat list of the object's
//! members read straight from the bytes, strings borrowed where they hold no escapes (the fast
//! path). The field rules in `events.rs` are written once against [`Source`], so both paths
//! accept the same events and give the same reasons.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// One member's value. Objects and arrays are never a field of the contract: they are only
/// told apart from scalars.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Str(Cow<'a, str>),
    /// A JSON number, kept as `serde_json` keeps it (non-negative integer, negative integer or
    /// float), so that conversions and messages match the reference path's exactly.
    Number(Number),
    Nested,
}

/// Where an event's fields are read from.
pub trait Source {
    /// The member named `field`, `None` when absent. Where a name occurs twice the last wins,
    /// as it does in a `serde_json::Map`.
    fn member(&self, field: &str) -> Option<Scalar<'_>>;
}

impl Source for Map<String, Value> {
    fn member(&self, field: &str) -> Option<Scalar<'_>> {
        self.get(field).map(|value| match value {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::String(s) => Scalar::Str(Cow::Borrowed(s)),
            Value::Number(n) => Scalar::Number(n.clone()),
            Value::Array(_) | Value::Object(_) => Scalar::Nested,
        })
    }
}

/// A JSON object's members in the order written, read without building a `Value`: the fast
/// path's source. Events have a dozen members at most, so a linear search is the quickest map.
#[derive(Debug, Default)]
pub struct Members<'a>(Vec<(Cow<'a, str>, Scalar<'a>)>);

impl Source for Members<'_> {
    fn member(&self, field: &str) -> Option<Scalar<'_>> {
        self.0
            .iter()
            .rev()
            .find(|(name, _)| name == field)
            .map(|(_, value)| match value {
                Scalar::Str(s) => Scalar::Str(Cow::Borrowed(s)),
                other => other.clone(),
            })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ObjectVisitor<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Members<'a>, M::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(Text(name)) = map.next_key::<Text<'a>>()? {
                    members.push((name, map.next_value::<Scalar<'a>>()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(ObjectVisitor(std::marker::PhantomData))
    }
}

/// A string, borrowed from the input unless it holds escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Number(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Number(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar<'a>, E> {
                // `serde_json` never hands a non-finite float; a `Value` would keep it as null.
                Ok(Number::from_f64(v).map_or(Scalar::Null, Scalar::Number))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            // Nested values are read member by member rather than skipped with `IgnoredAny`:
            // `serde_json` skips a string without checking its UTF-8, and the reference path,
            // which parses everything, rejects such bytes as invalid JSON.
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Scalar<'a>, S::Error> {
                while seq.next_element::<Scalar<'a>>()?.is_some() {}
                Ok(Scalar::Nested)
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Scalar<'a>, M::Error> {
                while map.next_entry::<Text<'a>, Scalar<'a>>()?.is_some() {}
                Ok(Scalar::Nested)
            }
        }
        deserializer.deserialize_any(ScalarVisitor(std::marker::PhantomData))
    }
}
