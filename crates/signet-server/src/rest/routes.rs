//! The REST route table, read from the `google.api.http` options of the compiled descriptors:
//! every RPC that declares a path is served there, and nothing is listed by hand except the
//! extra POST binding of `OperationService.Cancel` (the proto says GET, Yandex's design guide
//! shows POST; both are served).

use prost_reflect::{
    DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage as _, Value,
};

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A variable naming a field of the request message, matched against one path segment.
    Field(String),
}

/// A REST binding of one RPC.
#[derive(Debug, Clone)]
pub struct Route {
    pub verb: http::Method,
    segments: Vec<Segment>,
    /// The custom verb after the last segment (`sign` in `{key_id}:sign`).
    custom: Option<String>,
    /// Whether the HTTP body carries the request (`body: "*"`).
    pub body: bool,
    /// `/package.Service/Method`, the gRPC path the request is forwarded to.
    pub grpc_path: String,
    pub input: MessageDescriptor,
    pub output: MessageDescriptor,
}

/// What matching a request path against the table found.
#[derive(Debug)]
pub enum Match<'a> {
    /// A route, with the path variables as (field name, value).
    Found(&'a Route, Vec<(String, String)>),
    /// The path exists but not for this HTTP method; the allowed methods are listed.
    WrongMethod(Vec<http::Method>),
    NotFound,
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("the descriptor pool has no google.api.http extension")]
    NoHttpExtension,
    #[error("malformed path template {0:?} on {1}")]
    Template(String, String),
}

/// All REST routes of the services in `pool`.
#[derive(Debug, Clone)]
pub struct Routes(Vec<Route>);

impl Routes {
    pub fn from_pool(pool: &DescriptorPool) -> Result<Routes, RouteError> {
        let http = pool
            .get_extension_by_name("google.api.http")
            .ok_or(RouteError::NoHttpExtension)?;
        let mut routes = Vec::new();
        for service in pool.services() {
            for method in service.methods() {
                let options = method.options();
                if !options.has_extension(&http) {
                    continue;
                }
                let Value::Message(rule) = options.get_extension(&http).into_owned() else {
                    continue;
                };
                let grpc_path = format!("/{}/{}", service.full_name(), method.name());
                let mut rules = vec![rule.clone()];
                if let Some(Value::List(more)) = rule
                    .get_field_by_name("additional_bindings")
                    .map(|v| v.into_owned())
                {
                    rules.extend(more.into_iter().filter_map(|v| match v {
                        Value::Message(m) => Some(m),
                        _ => None,
                    }));
                }
                for rule in rules {
                    let Some((verb, template)) = pattern(&rule) else {
                        continue;
                    };
                    let body = string_field(&rule, "body").is_some_and(|b| !b.is_empty());
                    let (segments, custom) = parse_template(&template)
                        .ok_or_else(|| RouteError::Template(template.clone(), grpc_path.clone()))?;
                    let route = Route {
                        verb: verb.clone(),
                        segments,
                        custom,
                        body,
                        grpc_path: grpc_path.clone(),
                        input: method.input(),
                        output: method.output(),
                    };
                    if grpc_path == "/yandex.cloud.operation.OperationService/Cancel"
                        && verb == http::Method::GET
                    {
                        routes.push(Route {
                            verb: http::Method::POST,
                            ..route.clone()
                        });
                    }
                    routes.push(route);
                }
            }
        }
        // Routes with a custom verb first, so that `{key_id}:sign` is not taken for a key id.
        routes.sort_by_key(|r| r.custom.is_none());
        Ok(Routes(routes))
    }

    /// Every route, in matching order.
    pub fn all(&self) -> &[Route] {
        &self.0
    }

    pub fn find(&self, method: &http::Method, path: &str) -> Match<'_> {
        let mut allowed = Vec::new();
        for route in &self.0 {
            if let Some(vars) = route.matches(path) {
                if route.verb == *method {
                    return Match::Found(route, vars);
                }
                if !allowed.contains(&route.verb) {
                    allowed.push(route.verb.clone());
                }
            }
        }
        if allowed.is_empty() {
            Match::NotFound
        } else {
            Match::WrongMethod(allowed)
        }
    }
}

impl Route {
    /// The fields named by the path's variables.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Field(f) => Some(f.as_str()),
            Segment::Literal(_) => None,
        })
    }

    fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let path = path.strip_prefix('/')?;
        let path = match &self.custom {
            Some(custom) => path.strip_suffix(custom.as_str())?.strip_suffix(':')?,
            None => path,
        };
        let parts: Vec<&str> = path.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut vars = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Field(field) => {
                    let value = percent_encoding::percent_decode_str(part)
                        .decode_utf8()
                        .ok()?
                        .into_owned();
                    if value.is_empty() {
                        return None;
                    }
                    vars.push((field.clone(), value));
                }
            }
        }
        Some(vars)
    }
}

fn string_field(message: &DynamicMessage, name: &str) -> Option<String> {
    match message.get_field_by_name(name)?.into_owned() {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn pattern(rule: &DynamicMessage) -> Option<(http::Method, String)> {
    for (name, verb) in [
        ("get", http::Method::GET),
        ("post", http::Method::POST),
        ("put", http::Method::PUT),
        ("patch", http::Method::PATCH),
        ("delete", http::Method::DELETE),
    ] {
        let field = rule.descriptor().get_field_by_name(name)?;
        if rule.has_field(&field)
            && let Some(path) = string_field(rule, name)
        {
            return Some((verb, path));
        }
    }
    None
}

/// Parses `/a/{b}/c:verb` into segments and the custom verb. Only single-segment variables
/// (`{field}`) are used by the API, and only those are accepted.
fn parse_template(template: &str) -> Option<(Vec<Segment>, Option<String>)> {
    let rest = template.strip_prefix('/')?;
    let (rest, custom) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') && !rest[i..].contains('}') => {
            (&rest[..i], Some(rest[i + 1..].to_owned()))
        }
        _ => (rest, None),
    };
    let segments = rest
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(field) if !field.is_empty() && !field.contains(['=', '*', '{']) => {
                    Some(Segment::Field(field.to_owned()))
                }
                Some(_) => None,
                None if !s.is_empty() && !s.contains(['{', '}']) => {
                    Some(Segment::Literal(s.to_owned()))
                }
                None => None,
            },
        )
        .collect::<Option<Vec<_>>>()?;
    Some((segments, custom))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Routes {
        let pool = DescriptorPool::decode(signet_proto::FILE_DESCRIPTOR_SET).unwrap();
        Routes::from_pool(&pool).unwrap()
    }

    #[test]
    fn templates_parse() {
        let (segments, custom) =
            parse_template("/kms/v1/asymmetricSignatureKeys/{key_id}:sign").unwrap();
        assert_eq!(custom.as_deref(), Some("sign"));
        assert_eq!(segments.last(), Some(&Segment::Field("key_id".into())));
        assert!(parse_template("kms/v1").is_none());
        assert!(parse_template("/a/{b=**}").is_none());
        assert!(parse_template("/a//b").is_none());
    }

    #[test]
    fn every_kms_rpc_has_its_route() {
        let routes = routes();
        let cases = [
            (
                "POST",
                "/kms/v1/asymmetricSignatureKeys",
                "AsymmetricSignatureKeyService/Create",
                vec![],
            ),
            (
                "GET",
                "/kms/v1/asymmetricSignatureKeys/abj1",
                "AsymmetricSignatureKeyService/Get",
                vec!["key_id"],
            ),
            (
                "GET",
                "/kms/v1/asymmetricSignatureKeys",
                "AsymmetricSignatureKeyService/List",
                vec![],
            ),
            (
                "PATCH",
                "/kms/v1/asymmetricSignatureKeys/abj1",
                "AsymmetricSignatureKeyService/Update",
                vec!["key_id"],
            ),
            (
                "DELETE",
                "/kms/v1/asymmetricSignatureKeys/abj1",
                "AsymmetricSignatureKeyService/Delete",
                vec!["key_id"],
            ),
            (
                "GET",
                "/kms/v1/asymmetricSignatureKeys/abj1/operations",
                "AsymmetricSignatureKeyService/ListOperations",
                vec!["key_id"],
            ),
            (
                "GET",
                "/kms/v1/asymmetricSignatureKeys/abj1:listAccessBindings",
                "AsymmetricSignatureKeyService/ListAccessBindings",
                vec!["resource_id"],
            ),
            (
                "POST",
                "/kms/v1/asymmetricSignatureKeys/abj1:setAccessBindings",
                "AsymmetricSignatureKeyService/SetAccessBindings",
                vec!["resource_id"],
            ),
            (
                "POST",
                "/kms/v1/asymmetricSignatureKeys/abj1:updateAccessBindings",
                "AsymmetricSignatureKeyService/UpdateAccessBindings",
                vec!["resource_id"],
            ),
            (
                "POST",
                "/kms/v1/asymmetricSignatureKeys/abj1:sign",
                "AsymmetricSignatureCryptoService/Sign",
                vec!["key_id"],
            ),
            (
                "POST",
                "/kms/v1/asymmetricSignatureKeys/abj1:signHash",
                "AsymmetricSignatureCryptoService/SignHash",
                vec!["key_id"],
            ),
            (
                "GET",
                "/kms/v1/asymmetricSignatureKeys/abj1/publicKey",
                "AsymmetricSignatureCryptoService/GetPublicKey",
                vec!["key_id"],
            ),
            (
                "GET",
                "/operations/op1",
                "OperationService/Get",
                vec!["operation_id"],
            ),
            (
                "GET",
                "/operations/op1:cancel",
                "OperationService/Cancel",
                vec!["operation_id"],
            ),
            (
                "POST",
                "/operations/op1:cancel",
                "OperationService/Cancel",
                vec!["operation_id"],
            ),
            ("GET", "/endpoints", "ApiEndpointService/List", vec![]),
            ("POST", "/iam/v1/tokens", "IamTokenService/Create", vec![]),
        ];
        for (verb, path, rpc, fields) in cases {
            let verb: http::Method = verb.parse().unwrap();
            match routes.find(&verb, path) {
                Match::Found(route, vars) => {
                    assert!(
                        route.grpc_path.ends_with(rpc),
                        "{verb} {path} -> {}",
                        route.grpc_path
                    );
                    let names: Vec<&str> = vars.iter().map(|(f, _)| f.as_str()).collect();
                    assert_eq!(names, fields, "{verb} {path}");
                }
                other => panic!("{verb} {path}: {other:?}"),
            }
        }
    }

    #[test]
    fn wrong_method_and_unknown_paths() {
        let routes = routes();
        match routes.find(&http::Method::PUT, "/kms/v1/asymmetricSignatureKeys/abj1") {
            Match::WrongMethod(allowed) => {
                assert!(allowed.contains(&http::Method::GET));
                assert!(allowed.contains(&http::Method::PATCH));
                assert!(allowed.contains(&http::Method::DELETE));
            }
            other => panic!("{other:?}"),
        }
        for path in [
            "/",
            "/kms",
            "/kms/v1/asymmetricSignatureKeys/abj1/x",
            "/kms/v1/asymmetricSignatureKeys//publicKey",
            "no-slash",
        ] {
            assert!(
                matches!(routes.find(&http::Method::GET, path), Match::NotFound),
                "{path}"
            );
        }
    }

    #[test]
    fn path_variables_are_percent_decoded() {
        let routes = routes();
        let Match::Found(_, vars) =
            routes.find(&http::Method::GET, "/kms/v1/asymmetricSignatureKeys/a%27b")
        else {
            panic!("no match");
        };
        assert_eq!(vars, vec![("key_id".to_owned(), "a'b".to_owned())]);
    }
}
