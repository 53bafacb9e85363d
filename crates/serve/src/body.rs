//! A request body that ends with a read timeout when the client sends nothing for too long
//! while the component waits for it.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use wasmtime_wasi_http::Error;

/// `inner`, failing with [`Error::ConnectionReadTimeout`] once a read has waited `idle` for
/// the client. Only waiting counts: time the component spends elsewhere does not.
pub(crate) struct IdleTimeoutBody<B> {
    inner: B,
    idle: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Whether `timer` runs for the current wait.
    armed: bool,
    timed_out: bool,
}

impl<B> IdleTimeoutBody<B> {
    pub fn new(inner: B, idle: Duration) -> Self {
        IdleTimeoutBody {
            inner,
            idle,
            timer: None,
            armed: false,
            timed_out: false,
        }
    }
}

impl<B> Body for IdleTimeoutBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Error>,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        if this.timed_out {
            return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.armed = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let deadline = tokio::time::Instant::now() + this.idle;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if !this.armed {
                    timer.as_mut().reset(deadline);
                    this.armed = true;
                }
                if timer.as_mut().poll(cx).is_ready() {
                    this.timed_out = true;
                    tracing::info!(
                        idle = ?this.idle,
                        "a request body received nothing for the body-idle timeout; the \
                         component's read fails with a read timeout"
                    );
                    return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        !self.timed_out && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    #[tokio::test]
    async fn a_body_that_stops_sending_fails_with_a_read_timeout_and_one_that_sends_does_not() {
        let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Error>::new(1);
        let mut body = IdleTimeoutBody::new(body, Duration::from_millis(300));
        tokio::spawn(async move {
            for _ in 0..3 {
                // Each gap is below the idle timeout; together they are far above it.
                tokio::time::sleep(Duration::from_millis(200)).await;
                tx.send_data(Bytes::from_static(b"x")).await.unwrap();
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(tx);
        });
        for _ in 0..3 {
            let frame = body.frame().await.unwrap().unwrap();
            assert_eq!(frame.into_data().unwrap(), "x");
        }
        let waited = std::time::Instant::now();
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(waited.elapsed() < Duration::from_secs(2));
        assert!(matches!(err, Error::ConnectionReadTimeout), "{err}");
    }
}
