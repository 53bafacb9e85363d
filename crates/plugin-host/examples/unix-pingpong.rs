//! The ceiling for RPC plugins in `scripts/bench-plugins`: a raw request/response ping-pong
//! over a Unix socket, with the payloads of the benchmark's calls, no encoding, no framing.
//!
//! `unix-pingpong ROUNDS` prints, one per line, `NAME NANOS_PER_ROUND` for: a persistent
//! connection with an 8-byte request and reply (`inc`), the same with 64 KiB each way
//! (`reverse`), and a fresh connection per round (what wRPC's Unix transport does per call)
//! with 8 bytes.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Instant;

fn echo(mut stream: UnixStream) {
    let mut len = [0u8; 4];
    let mut buf = Vec::new();
    while stream.read_exact(&mut len).is_ok() {
        buf.resize(u32::from_le_bytes(len) as usize, 0);
        if stream.read_exact(&mut buf).is_err() {
            return;
        }
        buf.reverse();
        if stream
            .write_all(&len)
            .and_then(|()| stream.write_all(&buf))
            .is_err()
        {
            return;
        }
    }
}

fn round(stream: &mut UnixStream, payload: &[u8], reply: &mut Vec<u8>) -> std::io::Result<()> {
    stream.write_all(&(payload.len() as u32).to_le_bytes())?;
    stream.write_all(payload)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    reply.resize(u32::from_le_bytes(len) as usize, 0);
    stream.read_exact(reply)
}

fn main() -> std::io::Result<()> {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("manifold-pingpong-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("s.sock");
    let listener = UnixListener::bind(&path)?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || echo(stream));
        }
    });
    let mut reply = Vec::new();
    for (name, size, fresh) in [
        ("inc", 8, false),
        ("reverse", 64 * 1024, false),
        ("inc-connect-per-call", 8, true),
    ] {
        let payload = vec![7u8; size];
        let n = if size > 8 { rounds / 20 } else { rounds }.max(1);
        let mut stream = UnixStream::connect(&path)?;
        let start = Instant::now();
        for _ in 0..n {
            if fresh {
                stream = UnixStream::connect(&path)?;
            }
            round(&mut stream, &payload, &mut reply)?;
        }
        println!("{name} {}", start.elapsed().as_nanos() / u128::from(n));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
