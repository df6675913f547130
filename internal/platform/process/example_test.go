package process_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// The parts of a process run together: when one stops, for a failure or
// a signal, the others are told to stop, and RunAll returns once all have.
func ExampleRunAll() {
	err := process.RunAll(context.Background(),
		func(ctx context.Context) error { return errors.New("the database is gone") },
		func(ctx context.Context) error { <-ctx.Done(); fmt.Println("the server drained"); return nil })
	fmt.Println(err)
	// Output:
	// the server drained
	// the database is gone
}
