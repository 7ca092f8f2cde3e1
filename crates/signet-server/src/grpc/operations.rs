use super::wire_operation;
use crate::context::CallContext;
use signet_core::Kms;
use signet_proto::convert;
use signet_proto::yandex::cloud::operation::operation_service_server::OperationService as OperationServiceTrait;
use signet_proto::yandex::cloud::operation::{
    CancelOperationRequest, GetOperationRequest, Operation,
};
use std::sync::Arc;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub struct OperationService {
    kms: Arc<Kms>,
}

impl OperationService {
    pub fn new(kms: Arc<Kms>) -> Self {
        OperationService { kms }
    }
}

#[tonic::async_trait]
impl OperationServiceTrait for OperationService {
    async fn get(
        &self,
        request: Request<GetOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let id = convert::operation_id("operation_id", &request.get_ref().operation_id)
            .map_err(|e| ctx.fail(e))?;
        let op = self
            .kms
            .get_operation(&ctx.principal, &id)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(wire_operation(&op)))
    }

    async fn cancel(
        &self,
        request: Request<CancelOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let id = convert::operation_id("operation_id", &request.get_ref().operation_id)
            .map_err(|e| ctx.fail(e))?;
        let op = self
            .kms
            .cancel_operation(&ctx.principal, &id)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(wire_operation(&op)))
    }
}
