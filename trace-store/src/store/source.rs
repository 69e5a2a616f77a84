//! [`Source`]: the resource and instrumentation scope a group of spans was exported with.
//!
//! Every span of one `ScopeSpans` shares one `Source`, and the store's interner hands the same
//! `Arc<Source>` to later exports with an equal resource and scope, so a service that exports a
//! few spans at a time does not store its resource again with every batch.

use arcstr::ArcStr;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;

/// The service name used when a resource has no `service.name`, as the OTel SDKs do.
const UNKNOWN_SERVICE: &str = "unknown_service";

/// What produced a group of spans: the resource (service) and instrumentation scope (library)
/// of one `ScopeSpans`, with their schema URLs. Shared by all its spans, and by later exports
/// with the same resource and scope.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Source {
    /// The resource as received.
    pub resource: Resource,
    /// `ResourceSpans.schema_url`.
    pub resource_schema_url: String,
    /// The scope as received.
    pub scope: InstrumentationScope,
    /// `ScopeSpans.schema_url`.
    pub scope_schema_url: String,
    /// The resource's `service.name`, looked up once; shared, so per-span metrics can key on it
    /// without copying it.
    service_name: ArcStr,
}

impl Source {
    /// A source from the parts of a `ResourceSpans` / `ScopeSpans` pair.
    pub fn new(
        resource: Resource,
        resource_schema_url: String,
        scope: InstrumentationScope,
        scope_schema_url: String,
    ) -> Self {
        let service_name = resource
            .attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(name) => Some(ArcStr::from(name.as_str())),
                _ => None,
            })
            .unwrap_or_else(|| ArcStr::from(UNKNOWN_SERVICE));
        Source {
            resource,
            resource_schema_url,
            scope,
            scope_schema_url,
            service_name,
        }
    }
}

impl Source {
    /// The resource's `service.name` string attribute, or `"unknown_service"`.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// [`Source::service_name`], shared.
    pub(crate) fn service_name_shared(&self) -> ArcStr {
        self.service_name.clone()
    }
}
