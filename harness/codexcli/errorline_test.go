package codexcli

import "testing"

func TestErrorLinePicksWhatCodexSaidNotItsNoise(t *testing.T) {
	for _, c := range []struct{ out, want string }{
		{"WARNING: proceeding, even though we could not update PATH: Read-only file system (os error 30)\nError logging in: invalid ID token format\n", "Error logging in: invalid ID token format"},
		{"\x1b[31mError logging in: Invalid padding\x1b[0m\nWARNING: proceeding, even though we could not update PATH: x\n", "Error logging in: Invalid padding"},
		{"Logged in using ChatGPT\n", "Logged in using ChatGPT"},
		{"Starting local login server\nlogin failed: device auth failed with status 400\nbye\n", "login failed: device auth failed with status 400"},
		{"", ""},
	} {
		if got := ErrorLine(c.out); got != c.want {
			t.Errorf("ErrorLine(%q) = %q, want %q", c.out, got, c.want)
		}
	}
}
