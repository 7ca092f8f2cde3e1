use crate::auth::{self, NewToken, Principal, Resource};
use crate::domain::{AuthorizedKeyId, Invalid, ServiceAccountId, Timestamp, TokenRecord};
use crate::{CoreError, Kms, jwt};
use std::time::Duration;

/// An IAM token just issued. The token text is shown to the caller once; only its hash is
/// stored.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: NewToken,
    pub expires_at: Timestamp,
    pub service_account_id: ServiceAccountId,
}

/// Longest JWT lifetime accepted (`exp - iat`), as Yandex IAM allows.
const MAX_JWT_LIFETIME: Duration = Duration::from_secs(3600);

impl Kms {
    /// Exchanges a JWT signed (PS256) with a service account's authorized key for an IAM token.
    /// A malformed JWT is INVALID_ARGUMENT; a well-formed one that fails any check (algorithm,
    /// key, issuer, audience, times, signature) is UNAUTHENTICATED with a message naming the
    /// check.
    pub async fn exchange_jwt(&self, jwt_text: &str) -> Result<IssuedToken, CoreError> {
        let jwt = jwt::parse(jwt_text).map_err(|m| Invalid::one("jwt", m))?;
        if jwt.alg != jwt::ALGORITHM {
            return Err(CoreError::Unauthenticated(
                "the JWT must be signed with PS256",
            ));
        }
        let kid = AuthorizedKeyId::parse("jwt", &jwt.kid)
            .map_err(|_| CoreError::Unauthenticated("the JWT's kid is not a known key"))?;
        let key = self
            .store
            .get_authorized_key(&kid)
            .await?
            .ok_or(CoreError::Unauthenticated(
                "the JWT's kid is not a known key",
            ))?;
        if jwt.iss != key.service_account_id.as_str() {
            return Err(CoreError::Unauthenticated(
                "the JWT's iss is not the service account of its key",
            ));
        }
        if !jwt
            .aud
            .iter()
            .any(|a| self.settings.jwt_audiences.iter().any(|ok| ok == a))
        {
            return Err(CoreError::Unauthenticated(
                "the JWT's aud is not this server's IAM token endpoint",
            ));
        }
        let now_s = self.clock.now().as_micros() / 1_000_000;
        let leeway = self.settings.jwt_leeway.as_secs() as i64;
        if jwt.iat > now_s + leeway {
            return Err(CoreError::Unauthenticated("the JWT's iat is in the future"));
        }
        if jwt.exp <= now_s - leeway {
            return Err(CoreError::Unauthenticated("the JWT has expired"));
        }
        if jwt.exp <= jwt.iat || jwt.exp - jwt.iat > MAX_JWT_LIFETIME.as_secs() as i64 {
            return Err(CoreError::Unauthenticated(
                "the JWT's lifetime (exp - iat) must be positive and at most one hour",
            ));
        }
        let spki = signet_crypto::spki_pem_to_der(&key.public_key_pem)?;
        signet_crypto::verify(
            key.algorithm.jwt_algorithm(),
            &spki,
            jwt.signing_input.as_bytes(),
            &jwt.signature,
        )
        .map_err(|_| CoreError::Unauthenticated("the JWT's signature does not verify"))?;
        if self
            .store
            .get_service_account(&key.service_account_id)
            .await?
            .is_none()
        {
            return Err(CoreError::Unauthenticated(
                "the service account no longer exists",
            ));
        }
        self.issue_token(key.service_account_id).await
    }

    /// Issues a token for a service account directly (admin only).
    pub async fn create_token_for_service_account(
        &self,
        principal: &Principal,
        account: &ServiceAccountId,
    ) -> Result<IssuedToken, CoreError> {
        self.authorize::<auth::Administer>(principal, Resource::Deployment)
            .await?;
        if self.store.get_service_account(account).await?.is_none() {
            return Err(CoreError::NotFound {
                what: "service account",
                id: account.to_string(),
            });
        }
        self.issue_token(account.clone()).await
    }

    async fn issue_token(&self, account: ServiceAccountId) -> Result<IssuedToken, CoreError> {
        let token = auth::mint_token(auth::IAM_TOKEN_PREFIX)?;
        let now = self.clock.now();
        let lifetime = self
            .settings
            .token_lifetime
            .min(Duration::from_secs(12 * 3600));
        let record = TokenRecord {
            sha256_hex: auth::token_hash_hex(token.expose()),
            service_account_id: account.clone(),
            created_at: now,
            expires_at: now.saturating_add(lifetime),
            revoked_at: None,
        };
        self.store.insert_token(&record).await?;
        Ok(IssuedToken {
            token,
            expires_at: record.expires_at,
            service_account_id: account,
        })
    }

    /// Revokes an IAM token, effective immediately on this node. Holding the token is the
    /// proof of the right to revoke it. Returns the token's service account.
    pub async fn revoke_token(&self, token: &str) -> Result<ServiceAccountId, CoreError> {
        let hash = auth::token_hash_hex(token);
        let record = self.store.get_token(&hash).await?.ok_or(auth::BAD_TOKEN)?;
        self.store.revoke_token(&hash, self.clock.now()).await?;
        self.access.invalidate_token(&hash);
        Ok(record.service_account_id)
    }
}
