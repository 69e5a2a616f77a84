//! [`Interner`]: one shared copy of each string, each attribute list and each [`Source`] the
//! store holds.
//!
//! Spans repeat themselves: every span of the chain has the key `http.request.method`, most have
//! the value `GET`, every SERVER span of app-b has the same ten attributes, and every export from
//! app-b carries the same resource. The interner hands out reference-counted pointers
//! ([`ArcStr`], `Arc<[Attribute]>`, [`Arc<Source>`]) to one copy of each, so a million spans
//! hold one `"GET"`. A span whose attributes are its own (a request id, a client port) still
//! shares its keys and repeated values.
//!
//! Eviction drops spans, not interned entries; an entry that no span uses any more is the only
//! holder of its pointer (reference count 1). [`Interner::sweep_if_due`] forgets those whenever
//! the table has doubled since the last sweep, which keeps its cost constant per insert and its
//! size at most twice what stored spans use.

use std::collections::hash_map::Entry;

// foldhash, not std's SipHash: interning hashes every string of every span, and SipHash was a
// tenth of ingest's time. foldhash's per-process random seed still keeps crafted collisions out.
use foldhash::{HashMap, HashSet};
use std::sync::Arc;

use arcstr::ArcStr;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::attribute::{AttrValue, Attribute};
use super::raw_span::{NotUtf8, RawAnyValue, RawValue, text};
use super::source::Source;

/// Below this many entries a table is never swept: sweeping a small table saves nothing.
pub(super) const MIN_SWEEP: usize = 4096;

/// The string and source tables (see the module docs).
#[derive(Debug)]
pub(crate) struct Interner {
    strings: HashSet<Text>,
    /// Keyed by the source's protobuf encoding, which is exact where `Resource` has no `Hash`
    /// (its values may be floats).
    sources: HashMap<Vec<u8>, Arc<Source>>,
    /// Attribute lists by [`list_hash`]. Two different lists with the same 64-bit hash are
    /// rare enough that the second one is simply not shared.
    attribute_lists: HashMap<u64, Arc<[Attribute]>>,
    strings_sweep_at: usize,
    sources_sweep_at: usize,
    lists_sweep_at: usize,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            strings: HashSet::default(),
            sources: HashMap::default(),
            attribute_lists: HashMap::default(),
            strings_sweep_at: MIN_SWEEP,
            sources_sweep_at: MIN_SWEEP,
            lists_sweep_at: MIN_SWEEP,
        }
    }
}

impl Interner {
    /// An OTLP attribute value in the store's form, its string interned (and checked to be
    /// UTF-8, the one way it can fail).
    pub(super) fn attr_value(&mut self, value: Option<RawAnyValue>) -> Result<AttrValue, NotUtf8> {
        Ok(match value.map(|v| v.value) {
            Some(Some(RawValue::Str(s))) => AttrValue::Str(self.intern_utf8(&s)?),
            Some(Some(RawValue::Int(i))) => AttrValue::Int(i),
            Some(Some(RawValue::Double(d))) => AttrValue::Float(d),
            Some(Some(RawValue::Bool(b))) => AttrValue::Bool(b),
            Some(Some(other)) => AttrValue::Other(Some(Box::new(AnyValue {
                value: Some(other.into_proto()?),
            }))),
            Some(None) => AttrValue::Other(Some(Box::default())),
            None => AttrValue::Other(None),
        })
    }

    /// The shared copy of `text`, made on first sight.
    #[cfg(test)]
    pub(crate) fn intern(&mut self, text: &str) -> ArcStr {
        match self.shared(text.as_bytes()) {
            Some(shared) => shared,
            None => self.add(ArcStr::from(text)),
        }
    }

    /// The shared copy of the text in `bytes` (a protobuf `string` field as sent), made on first
    /// sight; `bytes` must be UTF-8. Only new text is checked: text already in the table was
    /// checked when it went in, and equal bytes are equally valid. Most strings of a span are
    /// repeats, so most go unchecked.
    pub(crate) fn intern_utf8(&mut self, bytes: &[u8]) -> Result<ArcStr, NotUtf8> {
        match self.shared(bytes) {
            Some(shared) => Ok(shared),
            None => Ok(self.add(ArcStr::from(text(bytes)?))),
        }
    }

    /// The copy the table holds of `bytes`, if any. The empty string is a static one: no
    /// allocation, no table entry.
    fn shared(&self, bytes: &[u8]) -> Option<ArcStr> {
        if bytes.is_empty() {
            return Some(ArcStr::new());
        }
        self.strings.get(bytes).map(|text| text.0.clone())
    }

    fn add(&mut self, text: ArcStr) -> ArcStr {
        self.strings.insert(Text(text.clone()));
        text
    }

    /// The shared copy of an attribute list whose strings came from [`Interner::intern`].
    pub(crate) fn attribute_list(&mut self, attributes: Vec<Attribute>) -> Arc<[Attribute]> {
        if attributes.is_empty() {
            return Arc::from(attributes);
        }
        match self.attribute_lists.entry(list_hash(&attributes)) {
            Entry::Occupied(found) if same_list(found.get(), &attributes) => found.get().clone(),
            // A hash collision: correct, just not shared.
            Entry::Occupied(_) => Arc::from(attributes),
            Entry::Vacant(slot) => slot.insert(Arc::from(attributes)).clone(),
        }
    }

    /// The shared [`Source`] equal to these parts, made on first sight.
    pub(crate) fn source(
        &mut self,
        resource: Resource,
        resource_schema_url: String,
        scope: InstrumentationScope,
        scope_schema_url: String,
    ) -> Arc<Source> {
        let mut key = Vec::new();
        // Length-delimited parts, so no two different sources share a key.
        for part in [resource.encode_to_vec(), scope.encode_to_vec()] {
            prost::encoding::encode_varint(part.len() as u64, &mut key);
            key.extend_from_slice(&part);
        }
        for url in [&resource_schema_url, &scope_schema_url] {
            prost::encoding::encode_varint(url.len() as u64, &mut key);
            key.extend_from_slice(url.as_bytes());
        }
        self.sources
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Source::new(
                    resource,
                    resource_schema_url,
                    scope,
                    scope_schema_url,
                ))
            })
            .clone()
    }

    /// Forgets entries no stored span uses any more, if either table has doubled since the last
    /// sweep. Call it after evicting.
    pub(crate) fn sweep_if_due(&mut self) {
        let strings_due = self.strings.len() >= self.strings_sweep_at;
        // Lists before strings, whenever strings are due: a list that goes may leave its
        // strings unused.
        if strings_due || self.attribute_lists.len() >= self.lists_sweep_at {
            self.attribute_lists.retain(|_, l| Arc::strong_count(l) > 1);
            self.lists_sweep_at = (self.attribute_lists.len() * 2).max(MIN_SWEEP);
        }
        if strings_due {
            // A count of 1 means only this table holds the string. `None` is a static string.
            self.strings
                .retain(|s| ArcStr::strong_count(&s.0).is_none_or(|count| count > 1));
            self.strings_sweep_at = (self.strings.len() * 2).max(MIN_SWEEP);
        }
        if self.sources.len() >= self.sources_sweep_at {
            self.sources.retain(|_, s| Arc::strong_count(s) > 1);
            self.sources_sweep_at = (self.sources.len() * 2).max(MIN_SWEEP);
        }
    }

    /// How many strings, sources and attribute lists the tables hold.
    #[cfg(test)]
    pub(crate) fn table_sizes(&self) -> (usize, usize, usize) {
        (
            self.strings.len(),
            self.sources.len(),
            self.attribute_lists.len(),
        )
    }
}

/// An interned string as the table keys it: by its bytes, so a lookup can take a protobuf field's
/// bytes before they are known to be UTF-8 ([`Interner::intern_utf8`]).
#[derive(Debug, PartialEq, Eq)]
struct Text(ArcStr);

// `Borrow` requires the two to hash alike: both hash as `[u8]`.
impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_bytes().hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for Text {
    fn borrow(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A hash of an attribute list from its strings' addresses: interned strings are equal exactly
/// when they are the same copy, so this never reads their text. A cheap multiply-rotate mix
/// (FxHash's) is enough: the table re-hashes this value with its own random keys, and two lists
/// that collide are merely not shared.
fn list_hash(attributes: &[Attribute]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |hash: u64, word: u64| (hash.rotate_left(5) ^ word).wrapping_mul(K);
    attributes.iter().fold(0, |hash, a| {
        let hash = mix(hash, a.key.as_ptr() as u64);
        match &a.value {
            AttrValue::Str(s) => mix(mix(hash, 0), s.as_ptr() as u64),
            AttrValue::Int(i) => mix(mix(hash, 1), *i as u64),
            AttrValue::Float(d) => mix(mix(hash, 2), d.to_bits()),
            AttrValue::Bool(b) => mix(mix(hash, 3), u64::from(*b)),
            // Rare; equal lists still hash equal, and `same_list` compares them in full.
            AttrValue::Other(_) => mix(hash, 4),
        }
    })
}

/// Whether two lists of interned attributes are the same. Floats compare by bits, so a list
/// holding NaN still finds its shared copy.
fn same_list(a: &[Attribute], b: &[Attribute]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            ArcStr::ptr_eq(&x.key, &y.key)
                && match (&x.value, &y.value) {
                    (AttrValue::Str(l), AttrValue::Str(r)) => ArcStr::ptr_eq(l, r),
                    (AttrValue::Int(l), AttrValue::Int(r)) => l == r,
                    (AttrValue::Float(l), AttrValue::Float(r)) => l.to_bits() == r.to_bits(),
                    (AttrValue::Bool(l), AttrValue::Bool(r)) => l == r,
                    (AttrValue::Other(l), AttrValue::Other(r)) => l == r,
                    _ => false,
                }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_copy() {
        let mut interner = Interner::default();
        let a = interner.intern("GET");
        let b = interner.intern(&String::from("GET"));
        assert!(ArcStr::ptr_eq(&a, &b));
        assert_eq!(interner.table_sizes().0, 1);
        assert_eq!(interner.intern(""), "");
        assert_eq!(
            interner.table_sizes().0,
            1,
            "the empty string takes no entry"
        );
    }

    #[test]
    fn only_new_text_is_checked_for_utf8_and_it_is_refused() {
        let mut interner = Interner::default();
        let a = interner.intern_utf8(b"caf\xc3\xa9").unwrap();
        assert_eq!(a, "café");
        assert!(ArcStr::ptr_eq(&a, &interner.intern("café")));
        assert_eq!(interner.intern_utf8(b"caf\xff"), Err(NotUtf8));
        assert_eq!(interner.table_sizes().0, 1, "nothing added for bad text");
    }

    #[test]
    fn a_sweep_forgets_only_unused_strings() {
        let mut interner = Interner::default();
        let kept: Vec<ArcStr> = (0..MIN_SWEEP / 2)
            .map(|i| interner.intern(&format!("kept-{i}")))
            .collect();
        for i in 0..MIN_SWEEP {
            interner.intern(&format!("dropped-{i}"));
        }
        interner.sweep_if_due();
        assert_eq!(interner.table_sizes().0, kept.len());
        // A kept string is still the same copy after the sweep.
        assert!(ArcStr::ptr_eq(&interner.intern("kept-0"), &kept[0]));
    }

    #[test]
    fn equal_sources_are_shared_and_different_ones_are_not() {
        let mut interner = Interner::default();
        let resource = |name: &str| Resource {
            attributes: vec![opentelemetry_proto::tonic::common::v1::KeyValue {
                key: "service.name".into(),
                value: Some(opentelemetry_proto::tonic::common::v1::AnyValue {
                    value: Some(
                        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                            name.into(),
                        ),
                    ),
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let scope = InstrumentationScope::default;
        let a = interner.source(resource("app-a"), String::new(), scope(), String::new());
        let again = interner.source(resource("app-a"), String::new(), scope(), String::new());
        let b = interner.source(resource("app-b"), String::new(), scope(), String::new());
        let a_url = interner.source(resource("app-a"), "u".into(), scope(), String::new());
        assert!(Arc::ptr_eq(&a, &again));
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &a_url));
        assert_eq!(interner.table_sizes().1, 3);
    }

    #[test]
    fn equal_attribute_lists_are_shared() {
        let mut interner = Interner::default();
        let mut list = |value: &str, x: f64| {
            let attributes = vec![
                Attribute {
                    key: interner.intern("k"),
                    value: AttrValue::Str(interner.intern(value)),
                },
                Attribute {
                    key: interner.intern("x"),
                    value: AttrValue::Float(x),
                },
            ];
            interner.attribute_list(attributes)
        };
        let a = list("v", f64::NAN);
        let again = list("v", f64::NAN);
        let other = list("w", f64::NAN);
        assert!(Arc::ptr_eq(&a, &again), "NaN compares by bits");
        assert!(!Arc::ptr_eq(&a, &other));
        assert_eq!(interner.table_sizes().2, 2);
    }
}
