// etcd server entry point for the testbed: the etcd repository's own main lives in its
// root module (not published for v3.6), so we call the published server's etcdmain.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
