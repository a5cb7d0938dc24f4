// Minimal libc file helpers for tests that read traces from disk (no Foundation needed).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

func fopenForTest(_ path: String) -> UnsafeMutablePointer<FILE> {
    guard let f = fopen(path, "wb") else { fatalError("cannot create \(path)") }
    return f
}

func fwriteForTest(_ bytes: UnsafeBufferPointer<UInt8>, _ f: UnsafeMutablePointer<FILE>) -> Int {
    fwrite(bytes.baseAddress, 1, bytes.count, f)
}

func fcloseForTest(_ f: UnsafeMutablePointer<FILE>) { fclose(f) }

func removeForTest(_ path: String) { unlink(path) }

func fopenForRead(_ path: String) -> UnsafeMutablePointer<FILE>? { fopen(path, "rb") }

func freadForTest(_ buffer: UnsafeMutableBufferPointer<UInt8>, _ f: UnsafeMutablePointer<FILE>) -> Int {
    fread(buffer.baseAddress, 1, buffer.count, f)
}
