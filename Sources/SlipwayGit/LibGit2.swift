import CLibGit2
import Foundation

/// Thin helpers over the libgit2 C API: initialisation once, errors as Swift errors.
enum LibGit2 {
    /// libgit2 must be initialised once per process before any call.
    static let initialized: Bool = {
        git_libgit2_init()
        // A private CA (an internal git server's) is trusted the way OpenSSL-based tools do it.
        let environment = ProcessInfo.processInfo.environment
        let file = environment["SSL_CERT_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let directory = environment["SSL_CERT_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        if file != nil || directory != nil {
            _ = slipway_git_set_ssl_cert_locations(file, directory)
        }
        return true
    }()

    static func check(_ code: Int32, _ operation: String) throws {
        guard code < 0 else { return }
        throw GitError(operation: operation, message: lastErrorMessage(code), retryable: isTransient(code))
    }

    /// A network, HTTP or ssh transport failure that is not about credentials or certificates:
    /// the server or the way to it may be back later.
    static func isTransient(_ code: Int32) -> Bool {
        guard code != GIT_EAUTH.rawValue, code != GIT_ECERTIFICATE.rawValue, let error = git_error_last() else { return false }
        let klass = error.pointee.klass
        return klass == Int32(GIT_ERROR_NET.rawValue) || klass == Int32(GIT_ERROR_HTTP.rawValue)
            || klass == Int32(GIT_ERROR_SSH.rawValue) || klass == Int32(GIT_ERROR_OS.rawValue)
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
