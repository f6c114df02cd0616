//! Interactions Ember routes but does not implement yet: they answer 501 with an
//! OperationOutcome, and the CapabilityStatement does not claim them.

use axum::extract::Path;
use engine::Category;

use super::resource_type_from_path;
use crate::error::ApiError;

/// POST [base] with a batch or transaction Bundle.
pub(crate) async fn batch_or_transaction() -> ApiError {
    ApiError::new(
        Category::NotSupported,
        "Batch and transaction Bundles are not supported yet",
    )
}

/// PATCH [base]/[type]/[id].
pub(crate) async fn patch(Path((type_name, _id)): Path<(String, String)>) -> ApiError {
    match resource_type_from_path(&type_name) {
        Err(error) => error,
        Ok(_) => ApiError::new(Category::NotSupported, "PATCH is not supported yet"),
    }
}
