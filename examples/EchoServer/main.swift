// EchoServer: the article's TCP listener. One goroutine per connection echoes every byte back
// until the client closes its side; a read or write that would block parks the goroutine on
// the netpoller, never its thread, so a few threads serve any number of connections.
//
//     EchoServer [--port N] [--host A.B.C.D] [--maxprocs N] [--seconds S]
//
// --port defaults to 8080 (0 picks a free port); the port is printed once listening. Ctrl-C
// ends the process (SIGINT's default action). --seconds stops it cleanly after S seconds
// instead, which lets a recorded trace (`spool record -- EchoServer --seconds 10`) end with
// its end frame.

import Spool
#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var host = "127.0.0.1"
    var port = 8080
    var maxProcs: Int? = nil
    var seconds: Int? = nil
}

func usage(_ msg: String) -> Never {
    var err = "EchoServer: \(msg)\nusage: EchoServer [--port N] [--host A.B.C.D] [--maxprocs N] [--seconds S]\n"
    err.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(2)
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    func value(_ flag: String) -> String {
        guard let v = args.popFirst() else { usage("\(flag) needs a value") }
        return v
    }
    func number(_ flag: String) -> Int {
        guard let n = Int(value(flag)), n >= 0 else { usage("\(flag) needs a non-negative integer") }
        return n
    }
    while let a = args.popFirst() {
        switch a {
        case "--port": o.port = number(a)
        case "--host": o.host = value(a)
        case "--maxprocs": o.maxProcs = max(1, number(a))
        case "--seconds": o.seconds = number(a)
        case "-h", "--help": usage("echoes every TCP connection until the client closes it")
        default: usage("unknown argument \(a)")
        }
    }
    return o
}

/// Echoes `conn` until EOF or an error, then closes it.
func serve(_ conn: TCPConnection) {
    defer { conn.close() }
    var buf = [UInt8](repeating: 0, count: 16 << 10)
    while true {
        do {
            let n = try conn.read(into: &buf)
            if n == 0 { return }
            try conn.write(Array(buf[0..<n]))
        } catch {
            return // reset or closed by the peer: nothing to echo to
        }
    }
}

let options = parseOptions()
setvbuf(stdout, nil, _IOLBF, 0)
do {
    try Runtime.run(maxProcs: options.maxProcs) {
        let listener = try TCPListener(host: options.host, port: options.port)
        print("EchoServer listening on \(listener.host):\(listener.port) (maxProcs \(Runtime.maxProcs))")
        if let seconds = options.seconds {
            go {
                Runtime.sleep(for: .seconds(seconds))
                listener.close() // accept below fails with .closed and main returns
            }
        }
        while true {
            let conn: TCPConnection
            do {
                conn = try listener.accept()
            } catch NetError.closed {
                break
            } catch {
                print("accept: \(error)") // e.g. out of descriptors: keep serving the others
                Runtime.sleep(for: .milliseconds(10))
                continue
            }
            go { serve(conn) }
        }
        print("EchoServer stopped")
    }
} catch {
    var err = "EchoServer: \(error)\n"
    err.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(1)
}
