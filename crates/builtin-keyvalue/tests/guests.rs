//! The conformance guests `kv-draft` and `kv-draft2` (built from source by
//! `manifold-test-programs`) against this provider, in process: a bare linker with
//! wasi:http and the provider, one store per request, as `manifold serve` does, but without
//! the server, the manifest or the runtime. The end-to-end tests through `manifold serve`
//! live with the binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use manifold_builtin_keyvalue::KeyValueProvider;
use manifold_provider::{InstanceState, Linker, Provider};
use wasmtime::component::Component;
use wasmtime::{Engine, Store};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

/// One guest, linked with one app's provider.
#[derive(Clone)]
struct Guest {
    engine: Engine,
    pre: ProxyPre<InstanceState>,
    provider: Arc<KeyValueProvider>,
}

impl Guest {
    fn new(engine: &Engine, wasm: &str, provider: Arc<KeyValueProvider>) -> Guest {
        let component = Component::from_file(engine, wasm).expect("compile the guest");
        let mut linker = Linker::new(engine);
        wasmtime_wasi_http::p2::add_to_linker_async(&mut linker).expect("link wasi:http");
        provider
            .add_to_linker(&mut linker, provider.interfaces())
            .expect("link wasi:keyvalue");
        let pre = linker
            .instantiate_pre(&component)
            .expect("every import linked");
        Guest {
            engine: engine.clone(),
            pre: ProxyPre::new(pre).expect("a wasi:http proxy"),
            provider,
        }
    }

    async fn get(&self, uri: &str) -> (u16, String) {
        self.send("GET", uri, "").await
    }

    async fn send(&self, method: &str, uri: &str, body: &str) -> (u16, String) {
        let mut state = InstanceState::new(64 << 20);
        self.provider.prepare_instance(&mut state).unwrap();
        let mut store = Store::new(&self.engine, state);
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("http://localhost{uri}"))
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let (request, out) = {
            let mut http = store.data_mut().http();
            (
                http.new_incoming_request(Scheme::Http, request).unwrap(),
                http.new_response_outparam(sender).unwrap(),
            )
        };
        let pre = self.pre.clone();
        // The handler streams the body after handing over the response: run it alongside.
        let call = tokio::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, out)
                .await
        });
        let response = receiver
            .await
            .expect("the guest set a response")
            .expect("the guest answered with a response");
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        call.await.unwrap().expect("the guest did not trap");
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

fn provider(dir: &Path, app: &str, buckets: &[&str]) -> Arc<KeyValueProvider> {
    let buckets: Vec<String> = buckets.iter().map(|b| b.to_string()).collect();
    Arc::new(KeyValueProvider::new(dir, app, &buckets).unwrap())
}

/// Both guests for one app granted `default` and `other`.
fn guests(dir: &Path) -> (Guest, Guest) {
    let engine = Engine::default();
    let p = provider(dir, "app", &["default", "other"]);
    (
        Guest::new(&engine, manifold_test_programs::KV_DRAFT, p.clone()),
        Guest::new(&engine, manifold_test_programs::KV_DRAFT2, p),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_function_of_both_drafts_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let (draft, draft2) = guests(dir.path());
    for (guest, prefix) in [(&draft, "/kv/draft"), (&draft2, "/kv/draft2")] {
        let (status, body) = guest
            .get(&format!("{prefix}/selftest?bucket=default"))
            .await;
        assert_eq!(status, 200, "{prefix}:\n{body}");
        assert!(body.starts_with("pass\n"), "{prefix}:\n{body}");
        assert!(!body.contains("FAIL"), "{prefix}:\n{body}");
    }
    let (_, body) = draft2.get("/selftest?bucket=default").await;
    assert!(
        body.contains("ok a swap after another write fails"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_answer_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let (draft, draft2) = guests(dir.path());
    for guest in [&draft, &draft2] {
        assert_eq!(guest.get("/open?bucket=default").await, (200, "ok".into()));
        assert_eq!(
            guest.get("/open?bucket=cache").await,
            (500, "error: access-denied".into())
        );
        for bad in ["..%2Fdefault", "a%00b", "", "."] {
            assert_eq!(
                guest.get(&format!("/open?bucket={bad}")).await,
                (500, "error: no-such-store".into()),
                "{bad:?}"
            );
        }
        assert_eq!(
            guest.get("/get?bucket=default&key=nope").await,
            (404, "none".into())
        );
        assert_eq!(
            guest.get("/exists?bucket=default&key=nope").await,
            (200, "false".into())
        );
        assert_eq!(guest.get("/nope").await, (404, "not found\n".into()));
        assert_eq!(
            guest.get("/get?bucket=default").await,
            (400, "missing query parameter `key`\n".into())
        );
    }

    // What one draft writes, the other reads.
    assert_eq!(
        draft
            .send("PUT", "/set?bucket=default&key=k", "from the body")
            .await,
        (200, "ok".into())
    );
    assert_eq!(
        draft2.get("/get?bucket=default&key=k").await,
        (200, "from the body".into())
    );
    assert_eq!(
        draft2.get("/set?bucket=default&key=q&value=a%20b").await.0,
        200
    );
    assert_eq!(
        draft.get("/get?bucket=default&key=q").await,
        (200, "a b".into())
    );
    assert_eq!(
        draft.get("/exists?bucket=default&key=q").await,
        (200, "true".into())
    );
    assert_eq!(
        draft.get("/delete?bucket=default&key=q").await,
        (200, "ok".into())
    );
    assert_eq!(draft2.get("/get?bucket=default&key=q").await.0, 404);

    // Buckets are apart.
    assert_eq!(draft.get("/get?bucket=other&key=k").await.0, 404);

    // Batches.
    assert_eq!(
        draft
            .get("/set-many?bucket=other&keys=a,b,c&values=1,2,3")
            .await,
        (200, "ok".into())
    );
    assert_eq!(
        draft2.get("/get-many?bucket=other&keys=a,x,c").await,
        (200, "a=1\nnone\nc=3\n".into())
    );
    assert_eq!(
        draft2.get("/delete-many?bucket=other&keys=a,x").await.0,
        200
    );
    assert_eq!(
        draft.get("/get-many?bucket=other&keys=a,b").await,
        (200, "none\nb=2\n".into())
    );

    // Cursors: a number in 0.2.0-draft, a key in 0.2.0-draft2.
    assert_eq!(
        draft.get("/fill?bucket=other&prefix=p&count=1001").await.0,
        200
    );
    let (_, page) = draft.get("/list-keys?bucket=other").await;
    assert!(page.starts_with("cursor: 1000\n"), "{}", &page[..40]);
    let (_, page) = draft.get("/list-keys?bucket=other&cursor=1000").await;
    assert_eq!(page, "cursor: none\np00998\np00999\np01000\n");
    let (_, page) = draft2.get("/list-keys?bucket=other").await;
    assert!(page.starts_with("cursor: p00997\n"), "{}", &page[..40]);
    let (_, page) = draft2.get("/list-keys?bucket=other&cursor=p00997").await;
    assert_eq!(page, "cursor: none\np00998\np00999\np01000\n");
    assert_eq!(
        draft.get("/list-keys?bucket=other&cursor=p00997").await,
        (
            400,
            "query parameter `cursor` is malformed: \"p00997\"\n".into()
        )
    );
    for guest in [&draft, &draft2] {
        let (_, all) = guest.get("/list-all?bucket=other").await;
        assert!(all.starts_with("pages: 2\n"), "{}", &all[..40]);
        // `b`, `c` and the 1001 filled keys.
        assert_eq!(all.lines().count(), 1 + 1003);
    }

    // Counters: u64 in 0.2.0-draft, s64 in 0.2.0-draft2; a bad one is an error value.
    assert_eq!(
        draft.get("/increment?bucket=default&key=c&delta=5").await,
        (200, "5".into())
    );
    assert_eq!(
        draft2.get("/increment?bucket=default&key=c&delta=-7").await,
        (200, "-2".into())
    );
    let (status, body) = draft.get("/increment?bucket=default&key=c").await;
    assert_eq!(status, 500);
    assert!(
        body.starts_with("error: other: the value is not a decimal u64"),
        "{body}"
    );
    assert_eq!(
        draft
            .get("/increment?bucket=default&key=c&delta=-1")
            .await
            .0,
        400
    );
    let (status, body) = draft2.get("/increment?bucket=default&key=k").await;
    assert_eq!(status, 500, "{body}");

    // Compare-and-swap, 0.2.0-draft2 only.
    assert_eq!(draft.get("/cas-current?bucket=default&key=k").await.0, 404);
    assert_eq!(
        draft2.get("/cas-current?bucket=default&key=k").await,
        (200, "from the body".into())
    );
    assert_eq!(
        draft2.get("/cas-current?bucket=default&key=fresh").await,
        (404, "none".into())
    );
    assert_eq!(
        draft2
            .get("/cas-swap?bucket=default&key=fresh&value=1&expect=none")
            .await,
        (200, "ok".into())
    );
    assert_eq!(
        draft2
            .get("/cas-swap?bucket=default&key=fresh&value=2&expect=none")
            .await,
        (409, "changed: 1".into())
    );
    assert_eq!(
        draft2.get("/cas-conflict?bucket=default&key=x").await,
        (
            200,
            "current=1\nset=2\nswap=cas-failed\nretry current=2\nretry swap=ok\nget=3\n".into()
        )
    );
    assert_eq!(
        draft2.get("/cas-increment?bucket=default&key=n").await,
        (200, "1 retries=0".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_lose_no_increment() {
    const REQUESTS: usize = 24;
    let dir = tempfile::tempdir().unwrap();
    let (draft, draft2) = guests(dir.path());
    let mut tasks = Vec::new();
    for i in 0..REQUESTS {
        let (d1, d2) = (draft.clone(), draft2.clone());
        tasks.push(tokio::spawn(async move {
            // Both drafts' `increment` on one counter, and a CAS loop on another.
            let hit = if i % 2 == 0 { d1 } else { d2.clone() };
            let (status, body) = hit.get("/increment?bucket=default&key=hits").await;
            assert_eq!(status, 200, "{body}");
            let (status, body) = d2.get("/cas-increment?bucket=default&key=cas").await;
            assert_eq!(status, 200, "{body}");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let n = REQUESTS.to_string();
    assert_eq!(
        draft.get("/get?bucket=default&key=hits").await,
        (200, n.clone())
    );
    assert_eq!(draft2.get("/get?bucket=default&key=cas").await, (200, n));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_apps_in_one_data_directory_do_not_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::default();
    let a = Guest::new(
        &engine,
        manifold_test_programs::KV_DRAFT2,
        provider(dir.path(), "app-a", &["default"]),
    );
    let b = Guest::new(
        &engine,
        manifold_test_programs::KV_DRAFT,
        provider(dir.path(), "app-b", &["default"]),
    );
    assert_eq!(a.get("/set?bucket=default&key=k&value=a").await.0, 200);
    assert_eq!(
        b.get("/get?bucket=default&key=k").await,
        (404, "none".into())
    );
    assert_eq!(
        b.get("/list-keys?bucket=default").await,
        (200, "cursor: none\n".into())
    );
    assert_eq!(a.get("/get?bucket=default&key=k").await, (200, "a".into()));
}
