// Command bookshop runs the Bookshop: `bookshop up` starts the whole
// system on this machine; `bookshop help` lists the other commands.
package main

import "github.com/bookshop-go/bookshop/internal/tool"

func main() { tool.Main("bookshop", tool.Run) }
