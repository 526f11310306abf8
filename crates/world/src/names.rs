//! Names: DNS name syntax, the host names Azure gives a cache (`NAME.redis.cache.windows.net`,
//! `NAME.REGION.redis.azure.net` and their `privatelink.` twins), record names relative to a zone,
//! and the default names the file format implies. One module, so the resolver, the mutations and the
//! scenario checks agree on every rule and none of them imports another for a helper.

use crate::flavour::Flavour;

/// Lowercase, without the trailing dot.
pub fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `name` (normalized) is a syntactically valid DNS name.
pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(is_label)
}

/// Whether `label` is one DNS label: 1–63 letters, digits, `-` or `_`, not starting or ending with `-`.
pub fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// Whether `label` can be a label of a cache's host name (cache names, regions): a DNS label in
/// lowercase, without `_`.
pub fn is_host_label(label: &str) -> bool {
    is_label(label) && !label.contains('_') && !label.bytes().any(|b| b.is_ascii_uppercase())
}

/// Whether `name` is `zone` or lies under it (both normalized).
pub fn in_zone(name: &str, zone: &str) -> bool {
    name == zone
        || name
            .strip_suffix(zone)
            .is_some_and(|head| head.ends_with('.'))
}

/// A cache's name relative to its flavour's suffixes: `NAME`, or `NAME.REGION` for managed-redis.
pub fn cache_relative_name(name: &str, flavour: Flavour, region: Option<&str>) -> String {
    match (flavour, region) {
        (Flavour::ManagedRedis, Some(region)) => format!("{name}.{region}"),
        _ => name.to_owned(),
    }
}

/// A cache's public host name: `NAME.redis.cache.windows.net` or `NAME.REGION.redis.azure.net`.
pub fn cache_host_name(name: &str, flavour: Flavour, region: Option<&str>) -> String {
    format!(
        "{}.{}",
        cache_relative_name(name, flavour, region),
        flavour.public_suffix()
    )
}

/// A cache's privatelink host name (what the public name is a CNAME of once a private endpoint
/// exists): `NAME.privatelink.redis.cache.windows.net` or `NAME.REGION.privatelink.redis.azure.net`.
pub fn cache_privatelink_host_name(name: &str, flavour: Flavour, region: Option<&str>) -> String {
    format!(
        "{}.{}",
        cache_relative_name(name, flavour, region),
        flavour.private_zone()
    )
}

/// The name of a zone link nobody named: `NETWORK-link`.
pub fn default_link_name(network: &str) -> String {
    format!("{network}-link")
}

/// The name of a DNS forwarder nobody named.
pub const DEFAULT_FORWARDER_NAME: &str = "custom-dns";

/// Why a record name does not fit its zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordNameError {
    /// A full name (ending in `.`, or in the zone's name) outside the zone.
    NotInZone,
    /// Not a DNS name.
    Invalid,
}

/// `name` relative to `zone` (normalized): `@` (the apex) stays, a full name in the zone loses the
/// zone's suffix, a name ending in `.` must lie in the zone, anything else is taken as relative.
pub fn relative_record_name(zone: &str, name: &str) -> Result<String, RecordNameError> {
    if name == "@" {
        return Ok("@".to_owned());
    }
    let n = normalize_name(name);
    if n == zone {
        return Ok("@".to_owned());
    }
    let relative = match n.strip_suffix(&format!(".{zone}")) {
        Some(head) => head.to_owned(),
        None if name.ends_with('.') => return Err(RecordNameError::NotInZone),
        None => n,
    };
    if is_dns_name(&relative) {
        Ok(relative)
    } else {
        Err(RecordNameError::Invalid)
    }
}

/// Whether `zone` (lowercase, no trailing dot) is a Private Link zone (`privatelink.*`), the only
/// kind whose links may carry the `NxDomainRedirect` resolution policy.
pub fn is_privatelink_zone(zone: &str) -> bool {
    zone.starts_with("privatelink.")
}

/// Why a link to `zone` cannot have `NxDomainRedirect` (Azure: "only applicable for virtual network
/// links to privatelink zones").
pub fn nx_domain_redirect_error(zone: &str) -> String {
    format!(
        "the NxDomainRedirect resolution policy is only applicable to virtual network links to privatelink zones, and {zone} is not one"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_follow_the_flavour() {
        let f = Flavour::RedisCache;
        assert_eq!(
            cache_host_name("contoso", f, None),
            "contoso.redis.cache.windows.net"
        );
        assert_eq!(
            cache_privatelink_host_name("contoso", f, None),
            "contoso.privatelink.redis.cache.windows.net"
        );
        let m = Flavour::ManagedRedis;
        assert_eq!(
            cache_host_name("amr", m, Some("westeurope")),
            "amr.westeurope.redis.azure.net"
        );
        assert_eq!(
            cache_privatelink_host_name("amr", m, Some("westeurope")),
            "amr.westeurope.privatelink.redis.azure.net"
        );
    }

    #[test]
    fn record_names_relative_to_their_zone() {
        let z = "privatelink.redis.cache.windows.net";
        assert_eq!(relative_record_name(z, "@").as_deref(), Ok("@"));
        assert_eq!(relative_record_name(z, "Contoso").as_deref(), Ok("contoso"));
        assert_eq!(
            relative_record_name(z, "contoso.privatelink.redis.cache.windows.net.").as_deref(),
            Ok("contoso")
        );
        assert_eq!(
            relative_record_name(z, &format!("{z}.")).as_deref(),
            Ok("@")
        );
        assert_eq!(
            relative_record_name(z, "contoso.example.com."),
            Err(RecordNameError::NotInZone)
        );
        assert_eq!(
            relative_record_name(z, "bad name"),
            Err(RecordNameError::Invalid)
        );
    }
}
