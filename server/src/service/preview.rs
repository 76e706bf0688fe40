//! Preview links: an `UPLOADED` asset of a previewable type (the model's list) shown inline
//! from a short-lived presigned GET, served as our exact type. Everything else stays
//! download-only.

use app::model::{
    Action, AssetId, PREVIEW_LINK_SECS, PreviewLink, Principal, UrlLifetime, previewable,
};

use super::{Service, ServiceError, conflict};
use crate::objects::inline_disposition;

impl Service {
    /// A presigned GET with `response-content-disposition: inline` and
    /// `response-content-type` set to the validated type; refused (409) for a type that could
    /// run script or is unknown, and for an asset not `UPLOADED`.
    pub async fn preview_link(
        &self,
        who: &Principal,
        id: AssetId,
    ) -> Result<PreviewLink, ServiceError> {
        let asset = self.get_for(who, id).await?;
        asset
            .state
            .apply(Action::Download)
            .map_err(|why| conflict(&asset, why))?;
        let shown = asset
            .content_type
            .as_deref()
            .and_then(previewable)
            .ok_or(ServiceError::NotPreviewable(id))?;
        let filename = asset.filename.clone().unwrap_or_else(|| id.to_string());
        let lifetime = UrlLifetime::from_secs(PREVIEW_LINK_SECS)?;
        let presigned = self
            .inner
            .objects
            .presign_get(
                id,
                &inline_disposition(&filename),
                shown.content_type,
                lifetime,
            )
            .await
            .map_err(ServiceError::Unavailable)?;
        Ok(PreviewLink {
            preview_url: presigned.url,
            kind: shown.kind,
            content_type: shown.content_type.to_string(),
            expires_at: presigned.expires_at,
        })
    }
}
