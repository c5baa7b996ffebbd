import Foundation
import NIOCore

/// Writes a POSIX tar (ustar, with PAX headers for long names) of a build context.
public struct TarArchive {
    public struct TooLarge: Error, CustomStringConvertible {
        public var bytes: Int
        public var limit: Int
        public var description: String {
            "the build context is \(bytes >> 20) MiB, over the \(limit >> 20) MiB limit; add a .dockerignore or narrow build.context"
        }
    }

    private(set) var buffer = ByteBuffer()
    let limit: Int

    public init(limit: Int = 1 << 30) { self.limit = limit }

    public var bytes: ByteBuffer { buffer }

    /// The archive of `directory`, minus what `ignore` excludes; entries in sorted order
    /// so the same tree always gives the same bytes (and the same BuildKit cache keys).
    public static func of(directory: String, ignore: DockerIgnore = DockerIgnore(patterns: []),
                          limit: Int = 1 << 30) throws -> ByteBuffer {
        var archive = TarArchive(limit: limit)
        let fm = FileManager.default
        for relative in entries(below: directory).sorted() where !ignore.excludes(relative) {
            let full = "\(directory)/\(relative)"
            var info = stat()
            guard lstat(full, &info) == 0 else { continue }
            let mode = Int(info.st_mode & 0o7777)
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try archive.append(name: relative + "/", type: "5", mode: mode, contents: [])
            case S_IFREG:
                let data = try Data(contentsOf: URL(fileURLWithPath: full))
                try archive.append(name: relative, type: "0", mode: mode, contents: Array(data))
            case S_IFLNK:
                let target = try fm.destinationOfSymbolicLink(atPath: full)
                try archive.append(name: relative, type: "2", mode: mode, contents: [], linkName: target)
            default:
                continue    // sockets, fifos and devices have no place in an image
            }
        }
        archive.finish()
        return archive.buffer
    }

    /// Every path below `directory`, found with lstat: a link is an entry of its own and is
    /// never walked into, so a link to `/` in a repository adds one entry, not the server's files.
    static func entries(below directory: String) -> [String] {
        var out: [String] = []
        var folders = [""]
        while let folder = folders.popLast() {
            let full = folder.isEmpty ? directory : "\(directory)/\(folder)"
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: full) else { continue }
            for name in names {
                let relative = folder.isEmpty ? name : "\(folder)/\(name)"
                var info = stat()
                guard lstat("\(directory)/\(relative)", &info) == 0 else { continue }
                out.append(relative)
                if info.st_mode & S_IFMT == S_IFDIR { folders.append(relative) }
            }
        }
        return out
    }

    mutating func append(name: String, type: Character, mode: Int, contents: [UInt8], linkName: String = "") throws {
        if name.utf8.count > 99 || linkName.utf8.count > 99 {
            var records = ""
            if name.utf8.count > 99 { records += Self.paxRecord("path", name) }
            if linkName.utf8.count > 99 { records += Self.paxRecord("linkpath", linkName) }
            try write(header(name: "PaxHeader", type: "x", mode: 0o644, size: records.utf8.count, linkName: ""),
                      contents: Array(records.utf8))
        }
        try write(header(name: String(decoding: name.utf8.prefix(99), as: UTF8.self), type: type, mode: mode, size: contents.count,
                         linkName: String(decoding: linkName.utf8.prefix(99), as: UTF8.self)), contents: contents)
    }

    mutating func finish() {
        buffer.writeRepeatingByte(0, count: 1024)
    }

    private mutating func write(_ header: [UInt8], contents: [UInt8]) throws {
        guard buffer.readableBytes + 512 + contents.count <= limit else {
            throw TooLarge(bytes: buffer.readableBytes + contents.count, limit: limit)
        }
        buffer.writeBytes(header)
        buffer.writeBytes(contents)
        let padding = (512 - contents.count % 512) % 512
        buffer.writeRepeatingByte(0, count: padding)
    }

    /// `"<length> key=value\n"` where the length counts itself.
    static func paxRecord(_ key: String, _ value: String) -> String {
        let body = " \(key)=\(value)\n"
        var length = body.utf8.count + 1
        while "\(length)\(body)".utf8.count != length { length += 1 }
        return "\(length)\(body)"
    }

    func header(name: String, type: Character, mode: Int, size: Int, linkName: String) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (i, byte) in text.utf8.prefix(width).enumerated() { h[offset + i] = byte }
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            put(String(String(value, radix: 8).suffix(width - 1)).leftPadded(to: width - 1), at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(mode, at: 100, width: 8)
        octal(0, at: 108, width: 8)            // uid
        octal(0, at: 116, width: 8)            // gid
        octal(size, at: 124, width: 12)
        octal(0, at: 136, width: 12)           // mtime: fixed, so archives are reproducible
        put(String(type), at: 156, width: 1)
        put(linkName, at: 157, width: 100)
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        // The checksum is computed with its own field as spaces.
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h.reduce(0) { $0 + Int($1) }
        put(String(String(sum, radix: 8)).leftPadded(to: 6), at: 148, width: 6)
        h[154] = 0
        h[155] = 0x20
        return h
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
