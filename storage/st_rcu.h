/*
 * st_rcu.h - safe reclamation for storage objects that readers on other
 * threads may still hold: quiescent-state-based reclamation (QSBR) from
 * DPDK's librte_rcu, used without the EAL.
 *
 * Readers (management-plane query threads) register once for a reader slot,
 * then bracket every read of shard memory with st_read_begin/st_read_end
 * (QSBR online/offline: one store and one full fence each). While no reader
 * is between begin and end, nothing they could hold is in use.
 *
 * Writers (the shard's owning core) retire objects with a token from
 * st_rcu_start() and free them once st_rcu_done(token) says every reader has
 * since passed through end or was offline. Neither side ever blocks or makes
 * a syscall; a reader that stays inside begin/end for long only delays reuse
 * of retired memory (it stays accounted to its shard meanwhile).
 */
#ifndef ST_RCU_H
#define ST_RCU_H

#include <stdbool.h>
#include <stdint.h>

struct st_rcu;

#define ST_RCU_MAX_READERS 64

/* Create a reclamation domain for up to max_readers reader threads. */
int st_rcu_create(uint32_t max_readers, struct st_rcu **out);
/* Destroy; no reader may be registered any more. Accepts NULL. */
void st_rcu_destroy(struct st_rcu *rcu);

/* Claim a reader slot for the calling thread: 0..max_readers-1, or -ENOSPC. */
int st_rcu_reader_register(struct st_rcu *rcu);
void st_rcu_reader_unregister(struct st_rcu *rcu, int reader_id);
/* Reader slots not claimed now (a snapshot: others may claim them next). */
uint32_t st_rcu_readers_free(const struct st_rcu *rcu);

/* Bracket a read of shard memory. Not nestable. Reader thread only. */
void st_read_begin(struct st_rcu *rcu, int reader_id);
void st_read_end(struct st_rcu *rcu, int reader_id);

/* Writer: a token for objects retired now. Lock-free; any thread. */
uint64_t st_rcu_start(struct st_rcu *rcu);
/* Writer: true once no reader can hold an object retired under token. Never blocks. */
bool st_rcu_done(struct st_rcu *rcu, uint64_t token);

#endif /* ST_RCU_H */
