//! `yandex.cloud.endpoint.ApiEndpointService`: endpoint discovery, without authentication, as
//! the SDKs expect. Every id points at this server, which serves every service.

use crate::context::request_id_of;
use signet_core::CoreError;
use signet_proto::yandex::cloud::endpoint as wire;
use tonic::{Request, Response, Status};

/// The endpoint ids Signet answers for.
pub const ENDPOINT_IDS: [&str; 6] = [
    "endpoint",
    "iam",
    "kms",
    "kms-crypto",
    "operation",
    "resource-manager",
];

#[derive(Debug, Clone)]
pub struct ApiEndpointService {
    advertised: String,
}

impl ApiEndpointService {
    /// `advertised` is the `host:port` clients should use.
    pub fn new(advertised: String) -> Self {
        ApiEndpointService { advertised }
    }

    fn endpoint(&self, id: &str) -> wire::ApiEndpoint {
        wire::ApiEndpoint {
            id: id.to_owned(),
            address: self.advertised.clone(),
        }
    }
}

#[tonic::async_trait]
impl wire::api_endpoint_service_server::ApiEndpointService for ApiEndpointService {
    async fn get(
        &self,
        request: Request<wire::GetApiEndpointRequest>,
    ) -> Result<Response<wire::ApiEndpoint>, Status> {
        let id = &request.get_ref().api_endpoint_id;
        if ENDPOINT_IDS.contains(&id.as_str()) {
            Ok(Response::new(self.endpoint(id)))
        } else {
            Err(crate::error::to_status(
                &CoreError::NotFound {
                    what: "API endpoint",
                    id: id.chars().take(64).collect(),
                },
                &request_id_of(&request),
            ))
        }
    }

    async fn list(
        &self,
        _request: Request<wire::ListApiEndpointsRequest>,
    ) -> Result<Response<wire::ListApiEndpointsResponse>, Status> {
        Ok(Response::new(wire::ListApiEndpointsResponse {
            endpoints: ENDPOINT_IDS.iter().map(|id| self.endpoint(id)).collect(),
            next_page_token: String::new(),
        }))
    }
}
