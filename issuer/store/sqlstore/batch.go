package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

// rotationBatcher is group commit for refresh-token rotations: one
// goroutine takes every rotation waiting at that moment (up to maxBatch),
// applies them one after the other in a single transaction, commits once —
// one fsync for the lot — and only then answers each caller. While it
// commits, the next rotations queue up and form the next batch, so the
// batch grows with the load and a lone rotation waits for nobody.
//
// Each rotation still decides on what the previous ones in the batch wrote
// (they share the transaction), so the order in the batch is a valid
// serial order, and a rotation answered has been committed: durability and
// atomicity are those of one transaction per rotation. When the batch
// fails as a whole, each rotation is retried alone, so one rotation's
// failure is not another's.
type rotationBatcher struct {
	s        *Store
	queue    chan *rotateCall
	stop     chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once
	maxBatch int
}

type rotateCall struct {
	ctx  context.Context
	p    store.RotateParams
	res  store.RotateResult
	err  error
	done chan struct{}
}

// errClosed answers rotations that arrive after Close.
var errClosed = errors.New("sqlstore: store closed")

// batchTimeout bounds one batch transaction. It is not any caller's
// context: a client that goes away must not undo the others' rotations.
const batchTimeout = 30 * time.Second

func newRotationBatcher(s *Store, maxBatch int) *rotationBatcher {
	b := &rotationBatcher{s: s, queue: make(chan *rotateCall, 4*maxBatch), stop: make(chan struct{}),
		stopped: make(chan struct{}), maxBatch: maxBatch}
	go b.run()
	return b
}

// rotate queues p and waits for the commit that carries it.
func (b *rotationBatcher) rotate(ctx context.Context, p store.RotateParams) (store.RotateResult, error) {
	c := &rotateCall{ctx: ctx, p: p, done: make(chan struct{})}
	select {
	case b.queue <- c:
	case <-b.stop:
		return store.RotateResult{}, errClosed
	case <-ctx.Done():
		return store.RotateResult{}, ctx.Err()
	}
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		// The rotation may still commit; the caller reports an outage
		// (503), and codex's retry then meets the reuse rules like any
		// client whose answer was lost.
		return store.RotateResult{}, ctx.Err()
	}
}

func (b *rotationBatcher) run() {
	defer close(b.stopped)
	batch := make([]*rotateCall, 0, b.maxBatch)
	for {
		batch = batch[:0]
		select {
		case c := <-b.queue:
			batch = append(batch, c)
		case <-b.stop:
			b.drain()
			return
		}
	fill:
		for len(batch) < b.maxBatch {
			select {
			case c := <-b.queue:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		b.commit(batch)
	}
}

// commit applies batch in one transaction and answers every call.
func (b *rotationBatcher) commit(batch []*rotateCall) {
	live := batch[:0:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			close(c.done)
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	err := b.s.tx(ctx, func(tx *sql.Tx) error {
		for _, c := range live {
			var err error
			if c.res, err = b.s.rotateIn(ctx, tx, c.p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && len(live) > 1 {
		// Find the culprit the slow way: every rotation on its own.
		for _, c := range live {
			c.err = b.s.tx(ctx, func(tx *sql.Tx) error {
				var err error
				c.res, err = b.s.rotateIn(ctx, tx, c.p)
				return err
			})
			close(c.done)
		}
		return
	}
	for _, c := range live {
		if err != nil {
			c.res, c.err = store.RotateResult{}, err
		}
		close(c.done)
	}
}

// drain answers what is still queued when the store closes.
func (b *rotationBatcher) drain() {
	for {
		select {
		case c := <-b.queue:
			c.err = errClosed
			close(c.done)
		default:
			return
		}
	}
}

// close stops the batcher after the batch in flight.
func (b *rotationBatcher) close() {
	b.stopOnce.Do(func() { close(b.stop) })
	<-b.stopped
}
