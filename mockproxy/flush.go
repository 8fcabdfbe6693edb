package mockproxy

import (
	"io"
	"net/http"
)

// copyFlushing copies a response body, flushing after every read so that
// streamed answers (server-sent events) pass at once.
func copyFlushing(w http.ResponseWriter, res *http.Response) (int64, error) {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := res.Body.Read(buf)
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
			_ = rc.Flush()
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
