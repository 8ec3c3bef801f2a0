package anthropic

import (
	"errors"
	"io"
	"testing"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// FuzzStream feeds arbitrary bytes to the stream translator as the
// upstream's event stream: an upstream is not trusted to be well-formed, so
// whatever it sends must end in io.EOF or an *llm.Error, never a panic.
func FuzzStream(f *testing.F) {
	f.Add([]byte(streamHead))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := streamOf(string(data))
		defer s.Close()
		// Each Next consumes at least one event, so a stream of len(data)
		// bytes ends within len(data)+2 calls.
		for range len(data) + 2 {
			c, err := s.Next()
			if err == nil {
				if c == nil {
					t.Fatal("a nil chunk without an error")
				}
				continue
			}
			var e *llm.Error
			if err != io.EOF && !errors.As(err, &e) {
				t.Fatalf("%T %v", err, err)
			}
			return
		}
		t.Fatal("the stream does not end")
	})
}
