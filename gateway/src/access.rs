//! Who the caller is, and whether they may make this request: the bearer token is verified
//! locally against auth-service's JWKS (cached, refetched on an unknown `kid`), public routes
//! pass without one, and the route policy names the permission each route needs.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use clap::Args;
use http::{HeaderMap, Method, StatusCode};
use shared::{
    Problem,
    auth::{Claims, TokenError, Verifier, bearer_token, refusal},
    config::AuthArgs,
};

use crate::{
    revocation::Denylist,
    routes::{RoutePattern, RouteTable, parse_patterns, parse_table},
};

/// Routes anyone may call: signing up and in, resetting a forgotten password, the keys,
/// restaurant browsing, the services' own descriptions and the API explorer that shows them,
/// the gateway's statistics, and the dashboard's page and stream (the stream asks for an
/// admin itself: a browser's `EventSource` sends the session cookie, not a bearer token).
pub const DEFAULT_PUBLIC_ROUTES: &str = "POST /auth/register, POST /auth/login, \
    POST /auth/mfa/verify, POST /auth/refresh, POST /auth/password/reset, \
    POST /auth/password/reset/confirm, GET /.well-known/jwks.json, \
    GET /auth/.well-known/jwks.json, GET /restaurants/**, HEAD /restaurants/**, \
    GET /*/openapi.json, GET /*/health, GET /*/ready, \
    GET /docs/**, GET /dashboard, GET /dashboard/events, DELETE /dashboard/session";

/// What each route needs beyond a valid token: one of the listed permissions (or
/// `role:<name>`). Routes not listed need only a valid token; the services check ownership.
pub const DEFAULT_ROUTE_POLICY: &str = "* /*/admin/dead-letters/**=messages:manage, \
    POST /orders=orders:create, \
    POST /orders/*/cancel=orders:cancel:own|role:admin, \
    POST /orders/*/accept=orders:update:own_restaurant|role:admin, \
    POST /orders/*/preparing=orders:update:own_restaurant|role:admin, \
    POST /orders/*/ready=orders:update:own_restaurant|role:admin, \
    GET /orders/**=orders:read:own|orders:read:any, \
    POST /restaurants/**=restaurants:write:own|restaurants:write:any, \
    PUT /restaurants/**=restaurants:write:own|restaurants:write:any, \
    PATCH /restaurants/**=restaurants:write:own|restaurants:write:any, \
    DELETE /restaurants/**=restaurants:write:own|restaurants:write:any, \
    * /delivery/couriers/**=couriers:manage:own, \
    POST /delivery/shipments=deliveries:manage, \
    POST /delivery/*/cancel=deliveries:manage, \
    POST /delivery/*/picked-up=deliveries:update:assigned|deliveries:manage, \
    POST /delivery/*/delivered=deliveries:update:assigned|deliveries:manage, \
    * /tracking/admin/**=deliveries:manage, \
    POST /tracking/*/locations=deliveries:update:assigned, \
    POST /payments/**=payments:manage, \
    GET /payments/**=payments:read:own|payments:read:any, \
    * /auth/admin/**=users:manage, \
    POST /admin/cache/**=cache:purge, \
    * /admin/**=role:admin";

/// How callers are identified and what they may call.
#[derive(Debug, Clone, Args)]
pub struct AccessArgs {
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Routes that need no token: `METHOD /path` patterns, comma-separated; `*` matches one
    /// segment, a trailing `/**` the rest.
    #[arg(long, env = "PUBLIC_ROUTES", default_value = DEFAULT_PUBLIC_ROUTES, value_parser = parse_public_routes)]
    pub public_routes: PublicRoutes,
    /// The permission each route needs: `METHOD /path=perm|perm|role:name`, comma-separated,
    /// first match wins.
    #[arg(long, env = "ROUTE_POLICY", default_value = DEFAULT_ROUTE_POLICY, value_parser = parse_route_policy)]
    pub route_policy: RoutePolicy,
}

/// The routes that need no token.
#[derive(Debug, Clone)]
pub struct PublicRoutes(pub Vec<RoutePattern>);

/// Route -> the grants of which one is needed.
#[derive(Debug, Clone)]
pub struct RoutePolicy(pub RouteTable<Vec<Grant>>);

/// One way to be allowed a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// A permission carried in the token.
    Permission(String),
    /// A role carried in the token.
    Role(String),
}

impl Grant {
    fn held_by(&self, claims: &Claims) -> bool {
        match self {
            Self::Permission(name) => claims.has(name),
            Self::Role(name) => claims.has_role(name),
        }
    }
}

fn parse_public_routes(text: &str) -> Result<PublicRoutes, String> {
    parse_patterns(text).map(PublicRoutes)
}

fn parse_route_policy(text: &str) -> Result<RoutePolicy, String> {
    parse_table(text, |grants| {
        grants
            .split('|')
            .map(str::trim)
            .map(|grant| match grant.strip_prefix("role:") {
                _ if grant.is_empty() => Err("an empty permission".to_owned()),
                Some(role) => Ok(Grant::Role(role.to_owned())),
                None => Ok(Grant::Permission(grant.to_owned())),
            })
            .collect()
    })
    .map(RoutePolicy)
}

/// The verifier, the revoked sessions and the policy, shared by every request.
#[derive(Debug)]
pub struct Access {
    pub verifier: Verifier,
    /// Sessions whose tokens are refused although genuine and current.
    pub denylist: Denylist,
    pub public: PublicRoutes,
    pub policy: RoutePolicy,
}

impl Access {
    /// The claims of `token` if it is genuine, current and of a session not revoked.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = self.verifier.verify(token).await?;
        if self.denylist.contains(&claims.sid) {
            metrics::counter!("gateway_revoked_tokens_refused_total").increment(1);
            return Err(TokenError::Revoked);
        }
        Ok(claims)
    }

    fn is_public(&self, method: &Method, path: &str) -> bool {
        self.public
            .0
            .iter()
            .any(|route| route.matches(method, path))
    }
}

/// The caller of one request, as its token says.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No bearer token.
    Anonymous,
    /// A valid token.
    Verified(Arc<Claims>),
    /// A token that was refused, and why.
    Refused(TokenError),
}

impl Caller {
    /// The verified claims, if any.
    pub fn claims(&self) -> Option<&Claims> {
        match self {
            Self::Verified(claims) => Some(claims),
            Self::Anonymous | Self::Refused(_) => None,
        }
    }
}

/// The value of the cookie `name`, if the request sent one.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value)
}

/// The caller `headers` name: verifies the bearer token, if any. The rate limit keys on
/// the user; the policy and the cache need the claims.
pub async fn identify(access: &Access, headers: &HeaderMap) -> Caller {
    let Some(token) = bearer_token(headers) else {
        return Caller::Anonymous;
    };
    // Boxed: the verification (which may fetch the keys) is a large future, and every
    // request's future would otherwise carry its size, token or not.
    match gateway_net::boxed::in_place(|| access.verify(token)).await {
        Ok(claims) => Caller::Verified(Arc::new(claims)),
        Err(err) => Caller::Refused(err),
    }
}

/// The refusal of a request the caller may not make: 401 without a valid token, 403
/// without the route's permission; `None` when it may (public routes always may).
pub fn refusal_of(
    access: &Access,
    method: &Method,
    path: &str,
    caller: &Caller,
) -> Option<Response> {
    if access.is_public(method, path) {
        return None;
    }
    let claims = match caller {
        Caller::Verified(claims) => claims,
        Caller::Anonymous => return Some(refusal(TokenError::Missing).into_response()),
        Caller::Refused(err) => return Some(refusal(err.clone()).into_response()),
    };
    if let Some(grants) = access.policy.0.find(method, path)
        && !grants.iter().any(|grant| grant.held_by(claims))
    {
        let needed: Vec<String> = grants
            .iter()
            .map(|grant| match grant {
                Grant::Permission(name) => format!("`{name}`"),
                Grant::Role(name) => format!("the role `{name}`"),
            })
            .collect();
        return Some(
            Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
                .with_detail(format!("{method} {path} needs {}.", needed.join(" or ")))
                .into_response(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_lists_parse_and_say_what_routes_need() {
        let public = parse_public_routes(DEFAULT_PUBLIC_ROUTES).expect("public routes");
        assert!(
            public
                .0
                .iter()
                .any(|r| r.matches(&Method::GET, "/restaurants/1/menu"))
        );
        assert!(!public.0.iter().any(|r| r.matches(&Method::GET, "/orders")));
        assert!(
            !public
                .0
                .iter()
                .any(|r| r.matches(&Method::GET, "/stats/cache")),
            "the statistics are on the operational listener alone"
        );
        for explorer in ["/docs", "/docs/", "/docs/swagger-ui-bundle.js"] {
            assert!(public.0.iter().any(|r| r.matches(&Method::GET, explorer)));
        }
        for anyone in ["/auth/password/reset", "/auth/password/reset/confirm"] {
            assert!(public.0.iter().any(|r| r.matches(&Method::POST, anyone)));
        }
        assert!(
            !public
                .0
                .iter()
                .any(|r| r.matches(&Method::POST, "/auth/password")),
            "changing a password needs a token"
        );

        let policy = parse_route_policy(DEFAULT_ROUTE_POLICY).expect("a policy");
        assert_eq!(
            policy.0.find(&Method::POST, "/orders/1/cancel"),
            Some(&vec![
                Grant::Permission("orders:cancel:own".into()),
                Grant::Role("admin".into())
            ])
        );
        assert_eq!(
            policy.0.find(&Method::POST, "/payments/authorize"),
            Some(&vec![Grant::Permission("payments:manage".into())]),
            "payments are made by the order saga; by hand only for support"
        );
        assert!(policy.0.find(&Method::GET, "/auth/me").is_none());
    }

    #[test]
    fn the_dead_letters_of_every_service_need_messages_manage_ahead_of_its_broader_rules() {
        let policy = parse_route_policy(DEFAULT_ROUTE_POLICY).expect("a policy");
        let manage = vec![Grant::Permission("messages:manage".into())];
        for service in ["orders", "payments", "delivery", "tracking"] {
            let list = format!("/{service}/admin/dead-letters");
            let one = format!("{list}/0190a5f4-7c1e-7000-8000-000000000001");
            assert_eq!(policy.0.find(&Method::GET, &list), Some(&manage), "{list}");
            assert_eq!(
                policy.0.find(&Method::POST, &format!("{one}/replay")),
                Some(&manage),
                "{one}/replay"
            );
            assert_eq!(policy.0.find(&Method::DELETE, &one), Some(&manage), "{one}");
        }
        assert_eq!(
            policy.0.find(&Method::POST, "/tracking/admin/rebuild"),
            Some(&vec![Grant::Permission("deliveries:manage".into())]),
            "the service's other admin routes keep their rule"
        );
    }

    #[test]
    fn an_empty_grant_is_refused() {
        assert!(parse_route_policy("POST /x=a||b").is_err());
    }
}
