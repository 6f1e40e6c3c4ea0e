//! The OpenAPI document against the router: `specs/openapi.json` is what
//! the code generates (regenerate with `ANTACA_UPDATE_OPENAPI=1 cargo test
//! --test http_api openapi`), the server serves it, and every operation in it
//! is routed (answers anything but ROUTE_NOT_FOUND / METHOD_NOT_ALLOWED).

use reqwest::{Method, StatusCode};

use crate::support::Api;

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/specs/openapi.json");

#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = antaca::http::openapi_json();
    if std::env::var("ANTACA_UPDATE_OPENAPI").is_ok_and(|value| value == "1") {
        std::fs::write(SPEC, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(SPEC).unwrap_or_default();
    assert!(
        committed == generated,
        "specs/openapi.json is stale: run ANTACA_UPDATE_OPENAPI=1 cargo test --test http_api openapi"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed_and_served() {
    let database = crate::support::TestStore::sqlite().await;
    let api = Api::start(&database.url).await;
    let (status, served) = api.call(&api.anonymous, Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let document = serde_json::to_value(antaca::http::openapi()).unwrap();
    assert_eq!(served, document);
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        let concrete = path
            .split('/')
            .map(|segment| if segment.starts_with('{') { "1" } else { segment })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body) = api.call(&api.anonymous, method.clone(), &concrete, None, None).await;
            let code = body["code"].as_str().unwrap_or("");
            assert!(
                code != "ROUTE_NOT_FOUND" && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not routed ({status} {body})"
            );
            operations += 1;
        }
    }
    assert_eq!(
        operations,
        registered_handlers(),
        "every registered handler is one documented operation"
    );
    api.stop().await;
}

/// The router's side: handlers registered through `routes!(...)` in src/http (each carries its
/// `#[utoipa::path]`, which is how it enters the document). A route added with axum's own `.route`
/// would bypass the document, so there must be none.
fn registered_handlers() -> usize {
    let mut handlers = 0;
    let mut directories = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/http"
    ))];
    while let Some(directory) = directories.pop() {
        for entry in std::fs::read_dir(directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                directories.push(path);
                continue;
            }
            let source = std::fs::read_to_string(path).unwrap();
            assert!(!source.contains(".route("), "a route outside the OpenAPI document");
            for registration in source.split("routes!(").skip(1) {
                let list = registration.split(')').next().unwrap();
                handlers += list.split(',').filter(|name| !name.trim().is_empty()).count();
            }
        }
    }
    handlers
}
