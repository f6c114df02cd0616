//! Interactions Ember routes but does not implement yet: they answer 501 with an
//! OperationOutcome, and the CapabilityStatement does not claim them.

use engine::Category;

use crate::error::ApiError;

/// POST [base] with a batch or transaction Bundle.
pub(crate) async fn batch_or_transaction() -> ApiError {
    ApiError::new(
        Category::NotSupported,
        "Batch and transaction Bundles are not supported yet",
    )
}
