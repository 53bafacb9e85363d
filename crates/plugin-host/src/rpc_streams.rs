//! One wRPC invocation of a function with `stream<u8>` parameters or results, on its own
//! connection (`docs/plugins.md`, "Streams"). The parameters go on path `[]` with each
//! stream "pending" (`0x00`); then a task writes each parameter stream `i` as frames on path
//! `[i]`, its bytes in chunks (LEB128 length, bytes) ended by a zero length, and shuts the
//! writing side when every stream has ended. The answer's frames on path `[]` are gathered
//! until they hold all the results; frames on path `[j]` carry result stream `j` in the same
//! chunk encoding and are handed on, as they arrive, to the receiver of that stream. A frame
//! on any other path, or bytes that are not framing, fail the call (or break off the stream)
//! as garbage.

use std::collections::HashMap;

use bytes::{Buf as _, Bytes, BytesMut};
use futures_util::StreamExt as _;
use manifold_plugin_api::wire::put;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;

use crate::rpc::{ReadFailure, send_invocation};
use crate::transport::{ParamStreams, StreamingAnswer, StreamingCall};

/// How many chunks of a result stream wait for the guest to read them.
const RESULT_CHUNKS: usize = 4;

pub(crate) async fn invoke_streaming<S>(
    stream: S,
    call: StreamingCall<'_>,
    max_answer: u64,
) -> anyhow::Result<StreamingAnswer>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (reading, mut writing) = tokio::io::split(stream);
    send_invocation(&mut writing, call.instance, call.func, &call.params).await?;
    tokio::spawn(write_streams(writing, call.outgoing));

    // One frame (of the results, or a chunk of a stream) beyond the answer cap is refused by
    // the codec, as broken framing.
    let max_frame = max_answer.min(u64::from(u32::MAX));
    let mut frames = FramedRead::new(reading, wrpc_transport::frame::Decoder::new(1, max_frame));
    let mut incoming = Incoming::new(&call.incoming);
    let mut root = BytesMut::new();
    loop {
        match frames.next().await {
            None => break,
            Some(Err(e)) => return Err(ReadFailure(e).into()),
            Some(Ok(frame)) => match frame.path.first() {
                None => {
                    root.extend_from_slice(&frame.data);
                    if root.len() as u64 > max_answer {
                        return Err(crate::rpc::AnswerTooLarge { max: max_answer }.into());
                    }
                    if (call.complete)(&root) {
                        break;
                    }
                }
                Some(&index) => incoming
                    .deliver(index, frame.data)
                    .await
                    .map_err(ReadFailure)?,
            },
        }
    }
    let streams = incoming.receivers();
    tokio::spawn(incoming.read_rest(frames));
    Ok(StreamingAnswer {
        root: root.freeze(),
        streams,
    })
}

/// Writes each parameter stream on its path, then shuts the writing side. A failed write
/// ends the task: the reading side sees the plugin's answer to that, or the connection end.
async fn write_streams<W>(mut writing: W, outgoing: ParamStreams)
where
    W: AsyncWrite + Unpin,
{
    let chunks = futures_util::stream::select_all(outgoing.into_iter().map(|(index, rx)| {
        let bytes = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (Some(chunk), rx))
        });
        // `None` after the last chunk: the stream's end.
        Box::pin(
            bytes
                .chain(futures_util::stream::once(async { None }))
                .map(move |chunk| (index, chunk)),
        )
    }));
    let mut chunks = std::pin::pin!(chunks);
    let mut head = Vec::with_capacity(16);
    while let Some((index, chunk)) = chunks.next().await {
        // One frame: path [index], then the data: a chunk (its length, its bytes) or the end
        // (a zero length).
        let (chunk_len, data) = match &chunk {
            Some(bytes) => (bytes.len() as u64, bytes.clone()),
            None => (0, Bytes::new()),
        };
        head.clear();
        let mut inner = Vec::with_capacity(10);
        put::uleb(&mut inner, chunk_len);
        put::uleb(&mut head, 1);
        put::uleb(&mut head, u64::from(index));
        put::uleb(&mut head, (inner.len() + data.len()) as u64);
        head.extend_from_slice(&inner);
        let mut frame = head.as_slice().chain(data);
        while frame.has_remaining() {
            if writing.write_buf(&mut frame).await.is_err() {
                return;
            }
        }
    }
    let _ = writing.shutdown().await;
}

/// The result streams of one call, being received.
struct Incoming {
    paths: HashMap<u32, Path>,
}

/// One result stream: the chunk being read and where its bytes go.
struct Path {
    tx: Option<mpsc::Sender<std::io::Result<Bytes>>>,
    rx: Option<mpsc::Receiver<std::io::Result<Bytes>>>,
    /// Bytes of a chunk length not yet complete.
    head: Vec<u8>,
    /// Bytes left in the current chunk.
    left: u64,
    ended: bool,
}

impl Incoming {
    fn new(indices: &[u32]) -> Incoming {
        let paths = indices
            .iter()
            .map(|&index| {
                let (tx, rx) = mpsc::channel(RESULT_CHUNKS);
                let path = Path {
                    tx: Some(tx),
                    rx: Some(rx),
                    head: Vec::new(),
                    left: 0,
                    ended: false,
                };
                (index, path)
            })
            .collect();
        Incoming { paths }
    }

    /// The receivers, for the results; a stream sent "ready" in the results leaves its
    /// receiver unused, which is harmless.
    fn receivers(&mut self) -> Vec<(u32, mpsc::Receiver<std::io::Result<Bytes>>)> {
        self.paths
            .iter_mut()
            .filter_map(|(&index, path)| path.rx.take().map(|rx| (index, rx)))
            .collect()
    }

    /// Hands on the bytes of a frame on path `[index]`.
    async fn deliver(&mut self, index: usize, mut data: Bytes) -> std::io::Result<()> {
        let path = u32::try_from(index)
            .ok()
            .and_then(|index| self.paths.get_mut(&index))
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("a frame on path [{index}], which is not a result stream"),
                )
            })?;
        while !data.is_empty() {
            if path.ended {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("bytes on path [{index}] after its stream ended"),
                ));
            }
            if path.left == 0 {
                // A chunk length, LEB128, possibly split across frames.
                let byte = data.get_u8();
                path.head.push(byte);
                if byte & 0x80 != 0 {
                    if path.head.len() >= 5 {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("a chunk length on path [{index}] is not a u32"),
                        ));
                    }
                    continue;
                }
                let len = manifold_plugin_api::wire::Reader::new(&path.head)
                    .uleb(32)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                path.head.clear();
                if len == 0 {
                    path.ended = true;
                    path.tx = None; // the stream's end
                } else {
                    path.left = len;
                }
                continue;
            }
            let n = (path.left as usize).min(data.len());
            let bytes = data.split_to(n);
            path.left -= n as u64;
            if let Some(tx) = &path.tx
                && tx.send(Ok(bytes)).await.is_err()
            {
                path.tx = None; // the guest dropped the stream: the rest is discarded
            }
        }
        Ok(())
    }

    /// Whether anything still waits for bytes.
    fn wanted(&self) -> bool {
        self.paths.values().any(|path| path.tx.is_some())
    }

    /// Receives the rest of the result streams, to the end of the connection (or until no
    /// stream is read any more). A stream the plugin did not end gets an error.
    async fn read_rest<R>(mut self, mut frames: FramedRead<R, wrpc_transport::frame::Decoder>)
    where
        R: AsyncRead + Unpin,
    {
        let failure = loop {
            if !self.wanted() {
                return;
            }
            match frames.next().await {
                None => {
                    break std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the plugin closed the connection before ending the stream",
                    );
                }
                Some(Err(e)) => break e,
                Some(Ok(frame)) => {
                    let delivered = match frame.path.first() {
                        Some(&index) => self.deliver(index, frame.data).await,
                        None => Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "more results after the results",
                        )),
                    };
                    if let Err(e) = delivered {
                        break e;
                    }
                }
            }
        };
        for path in self.paths.values_mut() {
            if let Some(tx) = path.tx.take() {
                let _ = tx
                    .send(Err(std::io::Error::new(
                        failure.kind(),
                        failure.to_string(),
                    )))
                    .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `frames` to path [0] of a one-stream call and collects what the receiver gets.
    async fn received(frames: &[&[u8]]) -> (Vec<u8>, Option<std::io::Error>, bool) {
        let mut incoming = Incoming::new(&[0]);
        let mut rx = incoming.receivers().pop().unwrap().1;
        let collect = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut error = None;
            while let Some(chunk) = rx.recv().await {
                match chunk {
                    Ok(bytes) => got.extend_from_slice(&bytes),
                    Err(e) => error = Some(e),
                }
            }
            (got, error)
        });
        for frame in frames {
            incoming
                .deliver(0, Bytes::copy_from_slice(frame))
                .await
                .unwrap();
        }
        let ended = incoming.paths[&0].ended;
        drop(incoming);
        let (got, error) = collect.await.unwrap();
        (got, error, ended)
    }

    #[tokio::test]
    async fn chunks_split_anywhere_across_frames_arrive_whole() {
        // Chunks "abc" and 200 bytes of 7 (length 200 = 0xc8 0x01, split between frames),
        // then the end.
        let mut big = vec![0xc8];
        let second: Vec<u8> = [&[0x01][..], &[7; 200][..], &[0]].concat();
        big.splice(0..0, [3, b'a', b'b', b'c']);
        let (got, error, ended) = received(&[&big[..2], &big[2..], &second]).await;
        assert!(error.is_none());
        assert!(ended);
        assert_eq!(&got[..3], b"abc");
        assert_eq!(got[3..], [7; 200]);
    }

    #[tokio::test]
    async fn bytes_after_the_end_and_unknown_paths_are_garbage() {
        let mut incoming = Incoming::new(&[1]);
        let _rx = incoming.receivers();
        let e = incoming
            .deliver(0, Bytes::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("path [0]"), "{e}");
        incoming.deliver(1, Bytes::from_static(&[0])).await.unwrap();
        let e = incoming
            .deliver(1, Bytes::from_static(&[1, 2]))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("after its stream ended"), "{e}");
    }

    #[tokio::test]
    async fn a_chunk_length_beyond_u32_is_garbage() {
        let mut incoming = Incoming::new(&[0]);
        let _rx = incoming.receivers();
        let e = incoming
            .deliver(0, Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not a u32"), "{e}");
    }
}
