import CLibGit2
import Foundation

/// Thin helpers over the libgit2 C API: initialisation once, errors as Swift errors.
enum LibGit2 {
    /// libgit2 must be initialised once per process before any call.
    static let initialized: Bool = {
        git_libgit2_init()
        return true
    }()

    static func check(_ code: Int32, _ operation: String) throws {
        guard code < 0 else { return }
        throw GitError(operation: operation, message: lastErrorMessage(code))
    }

    static func lastErrorMessage(_ code: Int32) -> String {
        if let error = git_error_last(), let message = error.pointee.message {
            return String(cString: message)
        }
        return "libgit2 error \(code)"
    }

    /// Calls `body` with a `git_strarray` of `strings` that lives for the call.
    static func withStrArray<T>(_ strings: [String], _ body: (inout git_strarray) throws -> T) rethrows -> T {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        return try pointers.withUnsafeMutableBufferPointer { buffer in
            var array = git_strarray(strings: buffer.baseAddress, count: buffer.count)
            return try body(&array)
        }
    }
}
