//! The values storage hands to and receives from its callers: stored versions, write
//! requests and their outcomes, history entries.

use bytes::Bytes;
use engine::{Id, Instant, PreparedResource, ResourceType, VersionId};

/// A version as stored: the canonical JSON bytes a read returns unchanged.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    pub version_id: VersionId,
    pub last_updated: Instant,
    /// `None` when this version is a deletion.
    pub body: Option<Bytes>,
}

/// One write the batcher commits together with others of the same type.
#[derive(Debug)]
pub struct WriteRequest {
    pub id: Id,
    pub action: WriteAction,
}

/// What a write does; the version it produces is decided inside the batch transaction.
#[derive(Debug)]
pub enum WriteAction {
    /// A new resource under a server-assigned id.
    Create(PreparedResource),
    /// A new version of `id`, or its first version (update-as-create).
    Update {
        resource: PreparedResource,
        /// From `If-Match` or `If-None-Match: *`: what must hold for the write to happen.
        precondition: Option<Precondition>,
    },
    /// A new version of `id` made by PATCH from its version `patched`, which must still be
    /// current; history shows it as PATCH.
    Patch {
        resource: PreparedResource,
        patched: VersionId,
    },
    /// A deletion version, if the resource exists and is not already deleted.
    Delete {
        /// From `If-Match`: the deletion happens only while it holds; a resource at another
        /// version, or none, fails it (RFC 9110, If-Match).
        precondition: Option<Precondition>,
    },
}

/// What must hold of a resource when a write to it is applied, or the write fails with
/// 412 (http.html#concurrency; RFC 9110, sections 13.1.1 and 13.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// `If-Match: W/"n"`: version n is the live version.
    Version(VersionId),
    /// `If-Match: *`: some version is live.
    Exists,
    /// `If-None-Match: *`: no version is live (a create that never overwrites).
    Absent,
    /// `If-Match` naming only entity tags this server never issued (`W/"abc"`): no version
    /// is theirs, so it holds for none.
    NoIssuedTag,
}

impl Precondition {
    /// Whether it holds of a resource whose live version is `live` (`None`: it does not
    /// exist, or is deleted).
    pub fn holds(self, live: Option<VersionId>) -> bool {
        match self {
            Precondition::Version(version) => live == Some(version),
            Precondition::Exists => live.is_some(),
            Precondition::Absent => live.is_none(),
            Precondition::NoIssuedTag => false,
        }
    }
}

impl std::fmt::Display for Precondition {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Precondition::Version(version) => write!(formatter, "version {version}"),
            Precondition::Exists => formatter.write_str("an existing version (If-Match: *)"),
            Precondition::Absent => formatter.write_str("no version (If-None-Match: *)"),
            Precondition::NoIssuedTag => {
                formatter.write_str("a version If-Match names (it names none this server issued)")
            }
        }
    }
}

/// How a write that succeeded changed the database.
#[derive(Debug, Clone)]
pub enum WriteOutcome {
    /// A first version (create, update-as-create, or an update of a deleted resource).
    Created(Written),
    /// A new version of a live resource.
    Updated(Written),
    /// A deletion version was written.
    Deleted(Written),
    /// The resource does not exist or is deleted already; nothing was written.
    NothingToDelete,
}

/// The version a successful write produced.
#[derive(Debug, Clone)]
pub struct Written {
    pub id: Id,
    pub version_id: VersionId,
    pub last_updated: Instant,
    /// The stored bytes; `None` for a deletion.
    pub body: Option<Bytes>,
}

/// Whose history to list.
#[derive(Debug, Clone)]
pub enum HistoryScope {
    Instance(ResourceType, Id),
    Type(ResourceType),
    System,
}

/// Where a history page starts: just after the last entry of the previous page.
///
/// A keyset position rather than an offset, so a page boundary stays put while new versions
/// are written between page requests: no entry is skipped or repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryCursor {
    pub last_updated: Instant,
    pub seq: i64,
}

/// One history page request.
#[derive(Debug, Clone)]
pub struct HistoryQuery {
    pub scope: HistoryScope,
    /// `_since`: only versions written at or after this instant.
    pub since: Option<Instant>,
    /// `_at`: only versions that were current at some point of this period.
    pub at: Option<CurrentDuring>,
    /// `_list`: only versions of the resources the current version of one of these Lists
    /// holds as an `entry.item`.
    pub lists: Option<Vec<String>>,
    pub after: Option<HistoryCursor>,
    pub count: u32,
}

/// The period `_at` names, in microseconds since the Unix epoch, each end inclusive; `None`
/// is open (`_at=ge2024` has no end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentDuring {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// One version in a history listing, newest first.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub resource_type: ResourceType,
    pub id: Id,
    pub version_id: VersionId,
    pub last_updated: Instant,
    pub method: HistoryMethod,
    /// The HTTP status the write that made this version was answered with.
    pub status: u16,
    pub body: Option<Bytes>,
    pub cursor: HistoryCursor,
}

/// The interaction that produced a version, as `Bundle.entry.request.method` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryMethod {
    Post,
    Put,
    Patch,
    Delete,
}

impl HistoryMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryMethod::Post => "POST",
            HistoryMethod::Put => "PUT",
            HistoryMethod::Patch => "PATCH",
            HistoryMethod::Delete => "DELETE",
        }
    }

    pub(crate) fn parse(text: &str) -> HistoryMethod {
        match text {
            "POST" => HistoryMethod::Post,
            "PATCH" => HistoryMethod::Patch,
            "DELETE" => HistoryMethod::Delete,
            _ => HistoryMethod::Put,
        }
    }
}

/// A page of history and whether more follows.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// Where the next page starts, if there is one.
    pub next: Option<HistoryCursor>,
}
