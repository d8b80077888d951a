//! What a promotion reads about one repository before moving its target branch.

use serde::{Deserialize, Serialize};

use crate::{BranchAccess, Comparison};

/// The reads a promotion plan makes of one repository, in as few requests as the forge
/// allows ([`Forge::promotion_reads`](crate::Forge::promotion_reads)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionReads {
    /// The tip of the source branch (`main`), `None` when the branch does not exist.
    pub source_tip: Option<String>,
    /// The tip of the target branch (`stable`), `None` when the branch does not exist.
    pub target_tip: Option<String>,
    /// `target...source` (commits of the source the target lacks, and the other way),
    /// when the forge answered it in the same request; `None` when it did not, or when a
    /// branch is missing. Callers ask [`Forge::compare`](crate::Forge::compare) then.
    pub comparison: Option<Comparison>,
    /// Whether the token's user may move the target branch, when the forge answered it
    /// in the same request; `None` when it did not. Callers ask
    /// [`Forge::branch_access`](crate::Forge::branch_access) then.
    pub target_access: Option<BranchAccess>,
}
