import ArgumentParser
import HiDiffTLS

/// `--tls-cert`, `--tls-key`, `--tls-ca`: TLS on every link this process opens or accepts (worker to
/// coordinator, group links, the HTTP API). Without any of them the links are plain TCP (a warning at start).
struct TLSOptions: ParsableArguments {
    @Option(help: "PEM certificate (chain, leaf first) this process presents; turns TLS on. Needs --tls-key.")
    var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?
    @Option(help: "PEM certificate of the cluster's CA: peers are verified against it, and servers require client certificates it signed (mutual TLS). Without it, servers are verified against the system trust store.")
    var tlsCa: String?

    var files: TLSFiles { TLSFiles(certificate: tlsCert, key: tlsKey, ca: tlsCa) }

    /// The loaded configuration, nil when no flag was given; `serves`: this process accepts connections.
    /// Throws `TLSConfigurationError` naming the flag and file at fault.
    func load(serves: Bool, role: String) throws -> LinkTLS? {
        try LinkTLS.load(files, serves: serves, role: role)
    }
}
