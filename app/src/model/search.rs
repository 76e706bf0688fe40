//! Finding assets: a filename prefix, a content-type filter and a sort order, as `GET /assets`
//! and the dashboard's search form take them (`?q=&type=&sort=`). Validated here once; stores
//! receive the normalized `Search`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use serde::{Deserialize, Deserializer, Serialize};

use super::{Asset, AssetId, InvalidInput, shorten};

/// The longest filename prefix a search takes, in characters (filenames are at most 1,024 bytes).
pub const MAX_QUERY_CHARS: usize = 255;
/// The longest `type` filter, in bytes (`type/subtype`, tokens of at most 127 bytes each).
pub const MAX_TYPE_BYTES: usize = 255;

/// The listing's order. `newest` is the default (and the order before search existed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Newest first (created, then id, descending).
    #[default]
    Newest,
    /// Oldest first.
    Oldest,
    /// Largest first; assets whose size is not known yet come last (newest first among equals).
    Largest,
}

impl SortOrder {
    pub const ALL: [SortOrder; 3] = [Self::Newest, Self::Oldest, Self::Largest];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Oldest => "oldest",
            Self::Largest => "largest",
        }
    }
}

impl fmt::Display for SortOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SortOrder {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|sort| sort.as_str() == s)
            .ok_or_else(|| {
                InvalidInput::new(format!(
                    "'{}' is not a sort order (newest, oldest, largest)",
                    shorten(s)
                ))
            })
    }
}

impl<'de> Deserialize<'de> for SortOrder {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Which content types a listing keeps.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TypeFilter {
    /// Exactly this type (lowercase essence, parameters ignored): `image/png`.
    Exact(String),
    /// Every subtype of a top-level type (lowercase): `image` for `image/*` or `image`.
    Family(String),
}

impl TypeFilter {
    /// Reads `image/png`, `image/*` or `image` (case-insensitive).
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let bad = || {
            InvalidInput::new(format!(
                "'{}' is not a type filter (a content type such as image/png, or a family: image/* or image)",
                shorten(raw)
            ))
        };
        let is_token = |s: &str| {
            !s.is_empty()
                && s.len() <= 127
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
        };
        if raw.len() > MAX_TYPE_BYTES {
            return Err(bad());
        }
        let lower = raw.to_ascii_lowercase();
        match lower.split_once('/') {
            None if is_token(&lower) => Ok(Self::Family(lower)),
            Some((kind, "*")) if is_token(kind) => Ok(Self::Family(kind.to_string())),
            Some((kind, sub)) if is_token(kind) && is_token(sub) => Ok(Self::Exact(lower)),
            _ => Err(bad()),
        }
    }

    /// Whether an asset of `content_type` passes.
    pub fn admits(&self, content_type: Option<&str>) -> bool {
        let Some(essence) = content_type.map(type_key) else {
            return false;
        };
        match self {
            Self::Exact(wanted) => essence == *wanted,
            Self::Family(family) => essence
                .strip_prefix(family.as_str())
                .is_some_and(|rest| rest.starts_with('/')),
        }
    }

    /// As `?type=` takes it back.
    pub fn as_query(&self) -> String {
        match self {
            Self::Exact(t) => t.clone(),
            Self::Family(f) => format!("{f}/*"),
        }
    }
}

/// What stores keep to match a filename prefix case-insensitively: the Unicode lowercase.
pub fn filename_key(filename: &str) -> String {
    filename.to_lowercase()
}

/// What stores keep to filter by type: the lowercase essence (`Text/Plain; charset=x` ->
/// `text/plain`).
pub fn type_key(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// A validated search: what the stores receive.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Search {
    /// Lowercased (`filename_key`); `None` for no filter.
    pub name_prefix: Option<String>,
    pub kind: Option<TypeFilter>,
    pub sort: SortOrder,
}

impl Search {
    /// From the raw query values; an empty `q` or `type` is no filter (a form sends them empty).
    /// Any text is a prefix (one no filename has, e.g. with control characters, matches none).
    pub fn parse(
        q: Option<&str>,
        kind: Option<&str>,
        sort: Option<SortOrder>,
    ) -> Result<Self, InvalidInput> {
        let name_prefix = match q.filter(|q| !q.is_empty()) {
            Some(q) if q.chars().count() > MAX_QUERY_CHARS => {
                return Err(InvalidInput::new(format!(
                    "q (a filename prefix) must be at most {MAX_QUERY_CHARS} characters"
                )));
            }
            Some(q) => Some(filename_key(q)),
            None => None,
        };
        let kind = kind
            .filter(|k| !k.is_empty())
            .map(TypeFilter::parse)
            .transpose()?;
        Ok(Self {
            name_prefix,
            kind,
            sort: sort.unwrap_or_default(),
        })
    }

    /// Whether a filename prefix or a type narrows the listing (the cursor then carries a
    /// fingerprint of them).
    pub fn narrows(&self) -> bool {
        self.name_prefix.is_some() || self.kind.is_some()
    }

    /// A stable 32-bit FNV-1a hash of the filters, so a cursor names the search it came from.
    pub fn fingerprint(&self) -> u32 {
        let mut hash: u32 = 0x811c_9dc5;
        let kind = self.kind.as_ref().map(TypeFilter::as_query);
        for part in [self.name_prefix.as_deref(), kind.as_deref()] {
            for byte in part.unwrap_or("\u{0}").bytes().chain([0xff]) {
                hash ^= u32::from(byte);
                hash = hash.wrapping_mul(0x0100_0193);
            }
        }
        hash
    }

    /// Whether an asset passes the filters (stores that filter after reading use this).
    pub fn admits(&self, filename: Option<&str>, content_type: Option<&str>) -> bool {
        let name_ok = match &self.name_prefix {
            None => true,
            Some(prefix) => filename.is_some_and(|f| filename_key(f).starts_with(prefix.as_str())),
        };
        name_ok && self.kind.as_ref().is_none_or(|k| k.admits(content_type))
    }
}

/// Where an asset sorts by size: its size, or -1 when not known yet (last when largest first).
pub fn size_key(asset: &Asset) -> i64 {
    asset.size.map_or(-1, |s| s.min(i64::MAX as u64) as i64)
}

impl SortOrder {
    /// Orders assets as a listing in this order shows them (`Less`: `a` is shown first). The
    /// stores' order and the dashboard's, where a pushed change joins the rows.
    pub fn order(self, a: &Asset, b: &Asset) -> Ordering {
        ListPosition::of(b).cmp_in(self, &ListPosition::of(a))
    }
}

/// Where an asset stands in every listing order: (size key, created, id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListPosition {
    pub size: i64,
    pub created_at: DateTime<Utc>,
    pub id: AssetId,
}

impl ListPosition {
    pub fn of(asset: &Asset) -> Self {
        Self {
            size: size_key(asset),
            created_at: asset.created_at,
            id: asset.asset_id,
        }
    }

    /// `Greater` when `self` comes before `other` in `sort`.
    pub fn cmp_in(&self, sort: SortOrder, other: &Self) -> Ordering {
        let newest = (self.created_at, self.id).cmp(&(other.created_at, other.id));
        match sort {
            SortOrder::Newest => newest,
            SortOrder::Oldest => newest.reverse(),
            SortOrder::Largest => self.size.cmp(&other.size).then(newest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filters_read_exact_types_and_families() {
        assert_eq!(
            TypeFilter::parse("Image/PNG").unwrap(),
            TypeFilter::Exact("image/png".into())
        );
        for family in ["image/*", "image", "IMAGE"] {
            assert_eq!(
                TypeFilter::parse(family).unwrap(),
                TypeFilter::Family("image".into())
            );
        }
        for bad in [
            "",
            "/",
            "image/",
            "/png",
            "a/b/c",
            "image/png; x=y",
            "ima ge",
            "*/*",
            "é",
        ] {
            assert!(TypeFilter::parse(bad).is_err(), "{bad}");
        }
        let family = TypeFilter::Family("text".into());
        assert!(family.admits(Some("text/plain; charset=utf-8")));
        assert!(!family.admits(Some("textual/x")));
        assert!(!family.admits(None));
        assert!(TypeFilter::Exact("text/plain".into()).admits(Some("Text/Plain;charset=x")));
    }

    #[test]
    fn searches_lowercase_bound_and_fingerprint() {
        let search = Search::parse(Some("ÉTÉ"), Some(""), None).unwrap();
        assert_eq!(search.name_prefix.as_deref(), Some("été"));
        assert_eq!(search.kind, None);
        assert_eq!(search.sort, SortOrder::Newest);
        assert!(search.admits(Some("Été 2025.png"), None));
        assert!(!search.admits(Some("ete.png"), None));
        assert!(Search::parse(Some(&"a".repeat(256)), None, None).is_err());
        assert!(Search::parse(Some(&"é".repeat(255)), None, None).is_ok());
        assert_eq!(
            Search::parse(Some(""), None, None).unwrap(),
            Search::default()
        );
        let other = Search::parse(Some("été"), Some("image"), None).unwrap();
        assert_ne!(search.fingerprint(), other.fingerprint());
        assert_eq!(
            search.fingerprint(),
            Search::parse(Some("Été"), None, Some(SortOrder::Largest))
                .unwrap()
                .fingerprint()
        );
        assert_eq!("largest".parse::<SortOrder>().unwrap(), SortOrder::Largest);
        assert!("Largest".parse::<SortOrder>().is_err());
    }
}
