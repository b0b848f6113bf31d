//! Authentication happens before the upgrade: every bad token is an HTTP 401 with a JSON body, and
//! browsers authenticate with the `bearer.<jwt>` subprotocol without the token ever being echoed.

mod common;

use base64::Engine;
use common::{SECRET, TestGateway};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Error;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

fn sign(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs")
}

/// Attempts an upgrade with the given headers; returns the refusal's status and JSON body.
async fn refused(gateway: &TestGateway, headers: &[(&str, String)]) -> (u16, Value) {
    let mut request = gateway.url().into_client_request().expect("request");
    for (name, value) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("name");
        request.headers_mut().insert(name, value.parse().expect("header"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Err(Error::Http(response)) => {
            let body = response
                .body()
                .as_ref()
                .map(|b| serde_json::from_slice(b).expect("JSON body"))
                .unwrap_or(Value::Null);
            (response.status().as_u16(), body)
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("the upgrade was accepted"),
    }
}

async fn gateway_with_issuer_and_audience() -> TestGateway {
    let (mut config, dir) = common::config();
    config.jwt_issuer = Some("https://issuer.test".into());
    config.jwt_audience = Some("agent-gateway".into());
    TestGateway::start_with(config, gateway::agent::Agents::standard(), Some(dir)).await
}

#[tokio::test]
async fn every_bad_token_is_a_401_before_the_upgrade() {
    let gateway = gateway_with_issuer_and_audience().await;
    let exp = now() + 600;
    let good = json!({"sub": "alice", "exp": exp, "iss": "https://issuer.test", "aud": "agent-gateway"});
    let bearer = |token: String| vec![("authorization", format!("Bearer {token}"))];
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("missing", vec![]),
        ("not a bearer", vec![("authorization", "Basic YWxpY2U6cHc=".into())]),
        ("malformed", bearer("not-a-jwt".into())),
        (
            "expired",
            bearer(sign(
                json!({"sub": "alice", "exp": now() - 600, "iss": "https://issuer.test", "aud": "agent-gateway"}),
                SECRET,
            )),
        ),
        (
            "wrong signature",
            bearer(sign(good.clone(), "some-other-secret-0123456789")),
        ),
        (
            "wrong issuer",
            bearer(sign(
                json!({"sub": "alice", "exp": exp, "iss": "https://evil.test", "aud": "agent-gateway"}),
                SECRET,
            )),
        ),
        (
            "wrong audience",
            bearer(sign(
                json!({"sub": "alice", "exp": exp, "iss": "https://issuer.test", "aud": "other"}),
                SECRET,
            )),
        ),
        (
            "no exp",
            bearer(sign(
                json!({"sub": "alice", "iss": "https://issuer.test", "aud": "agent-gateway"}),
                SECRET,
            )),
        ),
        (
            "bad subprotocol token",
            vec![("sec-websocket-protocol", "agent-gateway.v1, bearer.%%%".into())],
        ),
    ];
    for (case, headers) in cases {
        let (status, body) = refused(&gateway, &headers).await;
        assert_eq!(status, 401, "{case}");
        assert_eq!(body["code"], "UNAUTHORIZED", "{case}: {body}");
        assert!(body["message"].is_string(), "{case}");
    }
    // The same checks pass a good token with that issuer and audience.
    let mut request = gateway.url().into_client_request().expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", sign(good, SECRET)).parse().expect("header"),
    );
    tokio_tungstenite::connect_async(request)
        .await
        .expect("the good token is accepted");
    gateway.stop().await;
}

#[tokio::test]
async fn browsers_authenticate_with_the_subprotocol_and_the_token_is_never_echoed() {
    let gateway = TestGateway::start().await;
    let token = gateway.token("dana");
    for offered in [
        token.clone(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&token),
    ] {
        let mut request = gateway.url().into_client_request().expect("request");
        let protocols = format!("agent-gateway.v1, bearer.{offered}");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocols.parse().expect("header"));
        let (mut ws, response) = tokio_tungstenite::connect_async(request).await.expect("upgrades");
        let selected = response
            .headers()
            .get("sec-websocket-protocol")
            .expect("a selected protocol");
        assert_eq!(selected, "agent-gateway.v1");
        use futures_util::StreamExt;
        let ready = ws.next().await.expect("a message").expect("ok");
        let ready: Value = serde_json::from_str(ready.to_text().expect("text")).expect("JSON");
        assert_eq!(ready["user_id"], "dana");
    }
    gateway.stop().await;
}

#[tokio::test]
async fn a_connection_is_closed_with_1008_when_its_token_expires() {
    let gateway = TestGateway::start().await;
    // Valid for one second (plus the clock leeway): the connection works, then is closed.
    let token = gateway.state.auth.mint("erin", 1).expect("mints");
    let mut request = gateway.url().into_client_request().expect("request");
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().expect("header"));
    let (ws, _) = tokio_tungstenite::connect_async(request).await.expect("upgrades");
    let mut client = common::Client { ws };
    assert_eq!(client.recv().await["type"], "connection_ready");
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.recv().await["type"], "pong");
    let began = std::time::Instant::now();
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1008, "{frame:?}");
    assert!(frame.reason.contains("token expired"), "{frame:?}");
    assert!(
        began.elapsed().as_secs() >= 2,
        "not before the token's end: {:?}",
        began.elapsed()
    );
    gateway.stop().await;
}
