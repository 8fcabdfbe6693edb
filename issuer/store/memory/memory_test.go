package memory_test

import (
	"testing"

	"github.com/codexauth/codexauth/issuer/store"
	"github.com/codexauth/codexauth/issuer/store/memory"
	"github.com/codexauth/codexauth/issuer/store/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
}

func BenchmarkRotation(b *testing.B) { storetest.BenchmarkRotation(b, memory.New()) }

func BenchmarkConcurrentRotation(b *testing.B) {
	storetest.BenchmarkConcurrentRotation(b, memory.New())
}
