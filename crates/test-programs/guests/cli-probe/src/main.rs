//! `cli-probe`: a wasi:cli command whose arguments are probe commands, run in
//! order. Host tests use it to see what a guest is given (arguments,
//! environment, preopened directories, stdin, network) and how the host copes
//! with a guest that misbehaves. The contract is in
//! `crates/test-programs/README.md`; keep the two in step.

use std::fs;
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::process;

use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::ip_name_lookup::resolve_addresses;
use wasip2::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    Network,
};
use wasip2::io::streams::StreamError;
use wasip2::sockets::tcp::{ShutdownType, TcpSocket};
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

/// Exit status for a command line this program cannot understand.
const USAGE_ERROR: i32 = 2;

fn main() {
    run_static_constructors();
    let args: Vec<String> = std::env::args().collect();
    if args.len() <= 1 {
        println!("hello from cli-probe");
        return;
    }
    let mut commands = args[1..].iter().map(String::as_str);
    while let Some(command) = commands.next() {
        match command {
            "args" => print_args(&args),
            "env" => print_env(),
            "read" => read(operand(&mut commands, "read PATH")),
            "write" => {
                let path = operand(&mut commands, "write PATH TEXT");
                write(path, operand(&mut commands, "write PATH TEXT"));
            }
            "ls" => list(operand(&mut commands, "ls PATH")),
            "stdin" => copy_stdin(),
            "connect" => connect(operand(&mut commands, "connect HOST:PORT")),
            "listen" => listen(operand(&mut commands, "listen PORT")),
            "exit" => exit(operand(&mut commands, "exit N")),
            "loop" => probe_support::spin_forever(),
            "oom" => probe_support::exhaust_memory(),
            "trap" => probe_support::deliberate_trap(),
            "panic" => panic!("deliberate panic"),
            other => usage_error(&format!("unknown command `{other}`")),
        }
    }
    flush_stdout();
}

/// Runs the module's static constructors, among them wasi-libc's, which fills
/// its table of preopened directories: without it every `std::fs` call fails
/// with "Capabilities insufficient".
///
/// wasm-ld runs a command's constructors only if no code names
/// `__wasm_call_ctors` itself, and the wit-bindgen runtime under `wasip2`
/// does (it runs them from export wrappers, which a command does not use).
/// Debian's wasi-libc, which builds our guests, has a `_start` that leaves
/// them to wasm-ld, so nobody would run them. A newer wasi-libc's `_start`
/// runs them itself; running them again there only re-reads the preopens.
fn run_static_constructors() {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    // SAFETY: wasm-ld synthesizes `__wasm_call_ctors` as a function with no
    // parameters or results, which is the declared signature. It runs first
    // thing in `main`, before any code that relies on constructor state.
    unsafe { __wasm_call_ctors() }
}

/// The next argument, which `usage` says the current command needs.
fn operand<'a>(commands: &mut impl Iterator<Item = &'a str>, usage: &str) -> &'a str {
    commands
        .next()
        .unwrap_or_else(|| usage_error(&format!("missing operand, usage: {usage}")))
}

fn usage_error(message: &str) -> ! {
    flush_stdout();
    eprintln!("cli-probe: {message}");
    process::exit(USAGE_ERROR)
}

fn print_args(args: &[String]) {
    for (index, arg) in args.iter().enumerate() {
        println!("arg[{index}]={arg}");
    }
}

fn print_env() {
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    for (name, value) in vars {
        println!("env {name}={value}");
    }
}

fn read(path: &str) {
    match fs::read(path) {
        Ok(contents) => io::stdout()
            .write_all(&contents)
            .expect("failed to write to stdout"),
        Err(err) => eprintln!("read error: {err}"),
    }
}

fn write(path: &str, text: &str) {
    if let Err(err) = fs::write(path, text) {
        eprintln!("write error: {err}");
    }
}

fn list(path: &str) {
    let entries = fs::read_dir(path).and_then(|entries| {
        entries
            .map(|entry| entry.map(|entry| entry.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<Vec<String>>>()
    });
    match entries {
        Ok(mut names) => {
            names.sort();
            for name in names {
                println!("{name}");
            }
        }
        Err(err) => eprintln!("ls error: {err}"),
    }
}

fn copy_stdin() {
    io::copy(&mut io::stdin().lock(), &mut io::stdout().lock())
        .expect("failed to copy stdin to stdout");
}

fn connect(target: &str) {
    match tcp_connect(target) {
        Ok(answer) => {
            println!("connect ok");
            io::stdout()
                .write_all(&answer)
                .expect("failed to write to stdout");
        }
        Err(err) => eprintln!("connect error: {err}"),
    }
}

fn listen(port: &str) {
    let port: u16 = port
        .parse()
        .unwrap_or_else(|_| usage_error(&format!("`{port}` is not a port number")));
    match tcp_listen(port) {
        Ok(_socket) => println!("listening"),
        Err(err) => eprintln!("listen error: {err}"),
    }
}

fn exit(status: &str) -> ! {
    let status: u8 = status.parse().unwrap_or_else(|_| {
        usage_error(&format!("exit status `{status}` is not a number (0-255)"))
    });
    flush_stdout();
    if status == 0 {
        process::exit(0)
    }
    // The preview1 adapter's `proc_exit` maps every nonzero status to `exit(err)`; WASI
    // 0.2.12's `exit-with-code` carries the status itself.
    wasip2::cli::exit::exit_with_code(status);
    process::abort()
}

fn flush_stdout() {
    io::stdout().flush().expect("failed to flush stdout");
}

/// Opens a TCP connection through wasi:sockets, sends `ping\n`, shuts down its sending
/// half and returns everything the peer sends until it closes.
///
/// std's `TcpStream::connect` cannot be used: on wasm32-wasip1 it fails with
/// "unsupported" before the host is asked, so it would probe nothing. Asking
/// wasi:sockets directly lets the host's network policy decide.
fn tcp_connect(target: &str) -> Result<Vec<u8>, String> {
    let (host, port) = target
        .rsplit_once(':')
        .ok_or_else(|| format!("`{target}` is not HOST:PORT"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');

    let network = instance_network();
    let (family, remote) = match resolve(&network, host)? {
        IpAddress::Ipv4(address) => (
            IpAddressFamily::Ipv4,
            IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address }),
        ),
        IpAddress::Ipv6(address) => (
            IpAddressFamily::Ipv6,
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port,
                flow_info: 0,
                address,
                scope_id: 0,
            }),
        ),
    };
    let socket = create_tcp_socket(family).map_err(describe)?;
    socket.start_connect(&network, remote).map_err(describe)?;
    // Declared after `socket`, so dropped before it: a pollable (and a
    // stream) must not outlive the resource it belongs to.
    let ready = socket.subscribe();
    let (input, output) = loop {
        match socket.finish_connect() {
            Ok(streams) => break streams,
            Err(ErrorCode::WouldBlock) => ready.block(),
            Err(err) => return Err(describe(err)),
        }
    };
    output
        .blocking_write_and_flush(b"ping\n")
        .map_err(|err| format!("send: {err:?}"))?;
    drop(output);
    socket
        .shutdown(ShutdownType::Send)
        .map_err(describe)?;
    let mut answer = Vec::new();
    loop {
        match input.blocking_read(64 * 1024) {
            Ok(bytes) => answer.extend(bytes),
            Err(StreamError::Closed) => return Ok(answer),
            Err(err) => return Err(format!("receive: {err:?}")),
        }
    }
}

/// Binds a TCP socket to `127.0.0.1:PORT` and listens on it.
fn tcp_listen(port: u16) -> Result<TcpSocket, String> {
    let network = instance_network();
    let socket = create_tcp_socket(IpAddressFamily::Ipv4).map_err(describe)?;
    let local = IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port,
        address: (127, 0, 0, 1),
    });
    socket.start_bind(&network, local).map_err(describe)?;
    let ready = socket.subscribe();
    loop {
        match socket.finish_bind() {
            Ok(()) => break,
            Err(ErrorCode::WouldBlock) => ready.block(),
            Err(err) => return Err(describe(err)),
        }
    }
    socket.start_listen().map_err(describe)?;
    loop {
        match socket.finish_listen() {
            Ok(()) => break,
            Err(ErrorCode::WouldBlock) => ready.block(),
            Err(err) => return Err(describe(err)),
        }
    }
    drop(ready);
    Ok(socket)
}

/// The first address of `host`, which may be an IP address literal.
fn resolve(network: &Network, host: &str) -> Result<IpAddress, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(match ip {
            IpAddr::V4(ip) => {
                let [a, b, c, d] = ip.octets();
                IpAddress::Ipv4((a, b, c, d))
            }
            IpAddr::V6(ip) => {
                let [a, b, c, d, e, f, g, h] = ip.segments();
                IpAddress::Ipv6((a, b, c, d, e, f, g, h))
            }
        });
    }
    let addresses = resolve_addresses(network, host).map_err(describe)?;
    let ready = addresses.subscribe();
    loop {
        match addresses.resolve_next_address() {
            Ok(Some(address)) => return Ok(address),
            Ok(None) => return Err(format!("no address found for `{host}`")),
            Err(ErrorCode::WouldBlock) => ready.block(),
            Err(err) => return Err(describe(err)),
        }
    }
}

/// The WIT name of a socket error, e.g. `access-denied`.
fn describe(err: ErrorCode) -> String {
    err.name().to_string()
}
