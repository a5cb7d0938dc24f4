// The article's TCP echo server (goroutine per connection, echo until EOF), for comparison with
// examples/EchoServer in tools/bench-echo.sh. Go is a benchmark reference only.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"runtime"
)

func handleConnection(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, 1024)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if err != io.EOF {
				log.Printf("read error: %v", err)
			}
			break
		}
		conn.Write(buf[:n])
	}
}

func main() {
	port := flag.Int("port", 8080, "port")
	procs := flag.Int("procs", 0, "GOMAXPROCS (0: default)")
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %d\n", *port)
	for {
		conn, err := listener.Accept()
		if err != nil {
			log.Print(err)
			continue
		}
		go handleConnection(conn)
	}
}
