use crate::context::CallContext;
use signet_core::Kms;
use signet_proto::convert;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_crypto_service_server::AsymmetricSignatureCryptoService;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use std::sync::Arc;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub struct CryptoService {
    kms: Arc<Kms>,
}

impl CryptoService {
    pub fn new(kms: Arc<Kms>) -> Self {
        CryptoService { kms }
    }
}

#[tonic::async_trait]
impl AsymmetricSignatureCryptoService for CryptoService {
    async fn sign(
        &self,
        request: Request<AsymmetricSignRequest>,
    ) -> Result<Response<AsymmetricSignResponse>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let id = convert::sign(request.get_ref()).map_err(|e| ctx.fail(e))?;
        let sig = self
            .kms
            .sign(&ctx.principal, &id, &request.get_ref().message)
            .await
            .map_err(|e| ctx.fail(e))?;
        ctx.audit().algorithm(sig.algorithm);
        Ok(Response::new(AsymmetricSignResponse {
            key_id: sig.key_id.to_string(),
            signature: sig.signature,
        }))
    }

    async fn sign_hash(
        &self,
        request: Request<AsymmetricSignHashRequest>,
    ) -> Result<Response<AsymmetricSignHashResponse>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let id = convert::sign_hash(request.get_ref()).map_err(|e| ctx.fail(e))?;
        let sig = self
            .kms
            .sign_hash(&ctx.principal, &id, &request.get_ref().hash)
            .await
            .map_err(|e| ctx.fail(e))?;
        ctx.audit().algorithm(sig.algorithm);
        Ok(Response::new(AsymmetricSignHashResponse {
            key_id: sig.key_id.to_string(),
            signature: sig.signature,
        }))
    }

    async fn get_public_key(
        &self,
        request: Request<AsymmetricGetPublicKeyRequest>,
    ) -> Result<Response<AsymmetricGetPublicKeyResponse>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let id = convert::key_id("key_id", &request.get_ref().key_id).map_err(|e| ctx.fail(e))?;
        let (key_id, public_key) = self
            .kms
            .get_public_key(&ctx.principal, &id)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(AsymmetricGetPublicKeyResponse {
            key_id: key_id.to_string(),
            public_key,
        }))
    }
}
