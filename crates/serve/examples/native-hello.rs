//! The ceiling for `scripts/bench-serve`: a native hyper server that answers every request
//! with the same body as the `http-hello` guest, on the same HTTP stack Manifold uses.
//!
//! `cargo run --release -p manifold-serve --example native-hello -- 127.0.0.1:8082`

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8082".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("native hello on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|_req| async {
                let mut response =
                    hyper::Response::new(Full::new(Bytes::from_static(b"Hello from Manifold!\n")));
                response.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("text/plain"),
                );
                Ok::<_, Infallible>(response)
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
