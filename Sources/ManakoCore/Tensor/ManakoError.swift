/// The one error type of Manako. `code` maps one-to-one onto the C ABI's
/// `manako_status`; `message` names what is wrong and where.
public struct ManakoError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: Int32, Sendable {
        case invalidArgument = 1
        case invalidModel = 2
        case unsupportedOperator = 3
        case shapeMismatch = 4
        case io = 5
        case invalidImage = 6
        case limitExceeded = 7
        case bufferTooSmall = 8
        case `internal` = 9
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// The same error with `context` prepended, for errors raised deep inside a node or file.
    public func inContext(_ context: String) -> ManakoError {
        ManakoError(code, "\(context): \(message)")
    }
}
