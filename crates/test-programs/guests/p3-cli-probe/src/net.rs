//! The `connect` and `listen` probes, on `wasi:sockets@0.3.0`.

use std::net::{IpAddr, SocketAddr};

use crate::output::{Output, kebab_name};
use crate::wasi::sockets::ip_name_lookup;
use crate::wasi::sockets::types::{
    IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress, TcpSocket,
};
use crate::{CHUNK, Outcome};
use wit_bindgen::{StreamReader, StreamResult};

/// Connects to `HOST:PORT` (an IP address, or a name resolved with
/// `ip-name-lookup`), sends `ping\n`, closes its sending half, and prints
/// everything the peer sends back until it closes.
pub async fn connect(address: &str, out: &mut Output) -> Outcome {
    let remote = match resolve(address).await {
        Ok(remote) => remote,
        Err(code) => return out.error(&code).await,
    };
    match ping(remote).await {
        Ok(answer) => {
            out.write(answer).await;
            Outcome::Success
        }
        Err(code) => out.error(&code).await,
    }
}

async fn ping(remote: IpSocketAddress) -> Result<Vec<u8>, String> {
    let family = match remote {
        IpSocketAddress::Ipv4(_) => IpAddressFamily::Ipv4,
        IpSocketAddress::Ipv6(_) => IpAddressFamily::Ipv6,
    };
    let socket = TcpSocket::create(family).map_err(|code| kebab_name(&code))?;
    socket
        .connect(remote)
        .await
        .map_err(|code| kebab_name(&code))?;
    let (answer, received) = socket.receive();
    let (mut writer, reader) = crate::wit_stream::new();
    let sent = socket.send(reader);
    let _unwritten = writer.write_all(b"ping\n".to_vec()).await;
    // Ending the stream shuts down the sending half: the peer sees EOF.
    drop(writer);
    sent.await.map_err(|code| kebab_name(&code))?;
    let answer = read_all(answer).await;
    received.await.map_err(|code| kebab_name(&code))?;
    Ok(answer)
}

/// Binds `127.0.0.1:PORT`, listens, and prints `listening`.
pub async fn listen(port: u16, out: &mut Output) -> Outcome {
    let listening = TcpSocket::create(IpAddressFamily::Ipv4).and_then(|socket| {
        let local = IpSocketAddress::Ipv4(Ipv4SocketAddress {
            port,
            address: (127, 0, 0, 1),
        });
        socket.bind(local)?;
        socket.listen()
    });
    match listening {
        Ok(_connections) => {
            out.line("listening").await;
            Outcome::Success
        }
        Err(code) => out.error(&kebab_name(&code)).await,
    }
}

async fn resolve(address: &str) -> Result<IpSocketAddress, String> {
    if let Ok(literal) = address.parse::<SocketAddr>() {
        return Ok(socket_address(literal));
    }
    let (host, port) = address
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("not HOST:PORT: {address}"))?;
    let addresses = ip_name_lookup::resolve_addresses(host.to_string())
        .await
        .map_err(|code| kebab_name(&code))?;
    let first = addresses
        .first()
        .ok_or_else(|| format!("{host} has no address"))?;
    let ip = match *first {
        IpAddress::Ipv4((a, b, c, d)) => IpAddr::from([a, b, c, d]),
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => IpAddr::from([a, b, c, d, e, f, g, h]),
    };
    Ok(socket_address(SocketAddr::new(ip, port)))
}

fn socket_address(address: SocketAddr) -> IpSocketAddress {
    match address {
        SocketAddr::V4(v4) => {
            let [a, b, c, d] = v4.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: v4.port(),
                address: (a, b, c, d),
            })
        }
        SocketAddr::V6(v6) => {
            let [a, b, c, d, e, f, g, h] = v6.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: v6.port(),
                flow_info: v6.flowinfo(),
                address: (a, b, c, d, e, f, g, h),
                scope_id: v6.scope_id(),
            })
        }
    }
}

/// Reads `reader` to its end.
async fn read_all(mut reader: StreamReader<u8>) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        all.reserve(CHUNK);
        let (result, filled) = reader.read(all).await;
        all = filled;
        if !matches!(result, StreamResult::Complete(_)) {
            return all;
        }
    }
}
