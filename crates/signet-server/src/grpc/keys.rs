use super::{bindings, wire_operation};
use crate::context::CallContext;
use signet_core::Kms;
use signet_proto::convert;
use signet_proto::yandex::cloud::access;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_key_service_server::AsymmetricSignatureKeyService;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_proto::yandex::cloud::operation::Operation;
use std::sync::Arc;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub struct KeyService {
    kms: Arc<Kms>,
}

impl KeyService {
    pub fn new(kms: Arc<Kms>) -> Self {
        KeyService { kms }
    }
}

#[tonic::async_trait]
impl AsymmetricSignatureKeyService for KeyService {
    async fn create(
        &self,
        request: Request<CreateAsymmetricSignatureKeyRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let cmd = convert::create_key(request.into_inner()).map_err(|e| ctx.fail(e))?;
        let op = self
            .kms
            .create_key(&ctx.principal, cmd)
            .await
            .map_err(|e| ctx.fail(e))?;
        ctx.audit().resource(&op.resource_id);
        Ok(Response::new(wire_operation(&op)))
    }

    async fn get(
        &self,
        request: Request<GetAsymmetricSignatureKeyRequest>,
    ) -> Result<Response<AsymmetricSignatureKey>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let id = convert::key_id("key_id", &request.get_ref().key_id).map_err(|e| ctx.fail(e))?;
        let view = self
            .kms
            .get_key(&ctx.principal, &id)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(convert::key(&view)))
    }

    async fn list(
        &self,
        request: Request<ListAsymmetricSignatureKeysRequest>,
    ) -> Result<Response<ListAsymmetricSignatureKeysResponse>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let req = convert::list_keys(request.into_inner()).map_err(|e| ctx.fail(e))?;
        let page = self
            .kms
            .list_keys(&ctx.principal, req)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(ListAsymmetricSignatureKeysResponse {
            keys: page.keys.iter().map(convert::key).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update(
        &self,
        request: Request<UpdateAsymmetricSignatureKeyRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let cmd = convert::update_key(request.into_inner()).map_err(|e| ctx.fail(e))?;
        let op = self
            .kms
            .update_key(&ctx.principal, cmd)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(wire_operation(&op)))
    }

    async fn delete(
        &self,
        request: Request<DeleteAsymmetricSignatureKeyRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let id = convert::key_id("key_id", &request.get_ref().key_id).map_err(|e| ctx.fail(e))?;
        let op = self
            .kms
            .delete_key(&ctx.principal, &id)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(wire_operation(&op)))
    }

    async fn list_operations(
        &self,
        request: Request<ListAsymmetricSignatureKeyOperationsRequest>,
    ) -> Result<Response<ListAsymmetricSignatureKeyOperationsResponse>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let req = convert::list_operations(request.into_inner()).map_err(|e| ctx.fail(e))?;
        let page = self
            .kms
            .list_operations(&ctx.principal, req)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(
            ListAsymmetricSignatureKeyOperationsResponse {
                operations: page.operations.iter().map(wire_operation).collect(),
                next_page_token: page.next_page_token,
            },
        ))
    }

    async fn list_access_bindings(
        &self,
        request: Request<access::ListAccessBindingsRequest>,
    ) -> Result<Response<access::ListAccessBindingsResponse>, Status> {
        bindings::list(&self.kms, request, bindings::key_target).await
    }

    async fn set_access_bindings(
        &self,
        request: Request<access::SetAccessBindingsRequest>,
    ) -> Result<Response<Operation>, Status> {
        bindings::set(&self.kms, request, bindings::key_target).await
    }

    async fn update_access_bindings(
        &self,
        request: Request<access::UpdateAccessBindingsRequest>,
    ) -> Result<Response<Operation>, Status> {
        bindings::update(&self.kms, request, bindings::key_target).await
    }
}
