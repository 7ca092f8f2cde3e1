//! `signet.audit.v1.AuditTrailService`: the audit trail read through the server (ADR 0006).
//! Who may read what is the core's (`Kms::list_audit_records`); this only converts.

use crate::context::CallContext;
use signet_core::Kms;
use signet_proto::convert;
use signet_proto::signet::audit::v1::audit_trail_service_server::AuditTrailService as AuditTrailServiceTrait;
use signet_proto::signet::audit::v1::{
    AuditHead, GetAuditHeadRequest, ListAuditRecordsRequest, ListAuditRecordsResponse,
};
use std::sync::Arc;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub struct AuditTrailService {
    kms: Arc<Kms>,
}

impl AuditTrailService {
    pub fn new(kms: Arc<Kms>) -> Self {
        AuditTrailService { kms }
    }
}

#[tonic::async_trait]
impl AuditTrailServiceTrait for AuditTrailService {
    async fn list_records(
        &self,
        request: Request<ListAuditRecordsRequest>,
    ) -> Result<Response<ListAuditRecordsResponse>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let req = convert::list_audit_records(request.into_inner()).map_err(|e| ctx.fail(e))?;
        let page = self
            .kms
            .list_audit_records(&ctx.principal, req)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(ListAuditRecordsResponse {
            records: page.records.iter().map(convert::audit_record).collect(),
            next_page_token: page.next_page_token,
            last_scanned_seq: page.last_scanned_seq,
        }))
    }

    async fn get_head(
        &self,
        request: Request<GetAuditHeadRequest>,
    ) -> Result<Response<AuditHead>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let folder = convert::get_audit_head(request.get_ref()).map_err(|e| ctx.fail(e))?;
        let view = self
            .kms
            .audit_head_view(&ctx.principal, folder.as_ref())
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(convert::audit_head(&view)))
    }
}
