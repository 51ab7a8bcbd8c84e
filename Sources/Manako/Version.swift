/// Manako's version, also reported by the C ABI and the CLI.
public let version = "0.1.0"
