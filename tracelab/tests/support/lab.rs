//! The whole lab (`tracelab` with no subcommand) on free ports, as the lab, analysis and
//! workshop tests start it.

use super::Process;

/// A free port on loopback. The lab needs fixed ports for its services, so this binds port 0
/// and releases it; another process could take it in between, which on a test machine is rare
/// enough.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The lab's port flags, in the order [`start_lab`] returns the ports.
const PORT_FLAGS: [&str; 7] = [
    "--app-a-port",
    "--app-b-port",
    "--app-c-port",
    "--otlp-port",
    "--query-port",
    "--grpc-port",
    "--control-port",
];

/// Starts the lab on free ports, with `args` and `env` added; its ports in the order app-a,
/// app-b, app-c, OTLP, query, gRPC, lab control. It has not necessarily finished starting.
pub fn start_lab(args: &[&str], env: &[(&str, String)]) -> (Process, Vec<String>) {
    let ports: Vec<String> = (0..PORT_FLAGS.len())
        .map(|_| free_port().to_string())
        .collect();
    let mut all: Vec<&str> = PORT_FLAGS
        .iter()
        .zip(&ports)
        .flat_map(|(f, p)| [*f, p.as_str()])
        .collect();
    all.extend_from_slice(args);
    (Process::start(&all, env), ports)
}
