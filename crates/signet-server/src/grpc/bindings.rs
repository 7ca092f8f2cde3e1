//! The three access-binding RPCs, shared by every service that has them (keys, folders).

use super::wire_operation;
use crate::context::CallContext;
use signet_core::Kms;
use signet_core::domain::{BindingTarget, Invalid};
use signet_proto::convert::access;
use signet_proto::yandex::cloud::access as wire;
use signet_proto::yandex::cloud::operation::Operation;
use tonic::{Request, Response, Status};

/// How a service turns a `resource_id` into a binding target.
pub(crate) type ParseTarget = fn(&str) -> Result<BindingTarget, Invalid>;

fn target(ctx: &CallContext, raw: &str, parse: ParseTarget) -> Result<BindingTarget, Status> {
    access::resource_id(raw)
        .and_then(parse)
        .map_err(|e| ctx.fail(e))
}

pub(crate) async fn list(
    kms: &Kms,
    request: Request<wire::ListAccessBindingsRequest>,
    parse: ParseTarget,
) -> Result<Response<wire::ListAccessBindingsResponse>, Status> {
    let ctx = CallContext::authenticate(kms, &request).await?;
    let req = request.get_ref();
    let target = target(&ctx, &req.resource_id, parse)?;
    let (size, token) = access::list(req).map_err(|e| ctx.fail(e))?;
    let page = kms
        .list_access_bindings(&ctx.principal, &target, size, &token)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(Response::new(wire::ListAccessBindingsResponse {
        access_bindings: page.bindings.iter().map(access::to_wire).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub(crate) async fn set(
    kms: &Kms,
    request: Request<wire::SetAccessBindingsRequest>,
    parse: ParseTarget,
) -> Result<Response<Operation>, Status> {
    let ctx = CallContext::authenticate(kms, &request).await?;
    let req = request.get_ref();
    let target = target(&ctx, &req.resource_id, parse)?;
    let bindings = access::set(req).map_err(|e| ctx.fail(e))?;
    let op = kms
        .set_access_bindings(&ctx.principal, &target, bindings)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(Response::new(wire_operation(&op)))
}

pub(crate) async fn update(
    kms: &Kms,
    request: Request<wire::UpdateAccessBindingsRequest>,
    parse: ParseTarget,
) -> Result<Response<Operation>, Status> {
    let ctx = CallContext::authenticate(kms, &request).await?;
    let req = request.get_ref();
    let target = target(&ctx, &req.resource_id, parse)?;
    let deltas = access::update(req).map_err(|e| ctx.fail(e))?;
    let op = kms
        .update_access_bindings(&ctx.principal, &target, deltas)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(Response::new(wire_operation(&op)))
}

pub(crate) fn key_target(raw: &str) -> Result<BindingTarget, Invalid> {
    signet_core::domain::KeyId::parse("resource_id", raw).map(BindingTarget::Key)
}

pub(crate) fn folder_target(raw: &str) -> Result<BindingTarget, Invalid> {
    signet_core::domain::FolderId::parse("resource_id", raw).map(BindingTarget::Folder)
}
